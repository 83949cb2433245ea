"""The TLS context every SMTP session of this process uses, built once per setting.

Building one re-reads the system CA bundle (OpenSSL 3): 22-35 ms here, more than the whole SMTP
dialogue with a nearby server (about 2 ms), so it is never built per message. An SSLContext is
safe to share between connections and threads."""

from __future__ import annotations

import ssl
from functools import cache


@cache
def tls_context(verify: bool) -> ssl.SSLContext:
    """`verify`: check the server's certificate and name (Apprise's `verify=yes`, the default)."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
