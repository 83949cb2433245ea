"""Real protocol peers for tests, on 127.0.0.1 only: an SMTP server and a Teams stand-in."""
