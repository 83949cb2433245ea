"""Secrets never reach logs, errors or the delivery log.

Apprise logs the Workflows URL (its workflow id) at DEBUG, and urllib3 logs request lines
with the `sig=` signature at DEBUG; an SMTP password sits in the mailto URL. Channels register
the secret parts of every URL they use, and a log-record factory scrubs them from every
record of every logger before any handler sees it.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, urlsplit

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False
MASK = "****"


def secrets_of(url: str) -> set[str]:
    """The parts of an Apprise URL that must never be shown: password, and for
    workflows:// the workflow id and signature; also any query value named like a secret."""
    out: set[str] = set()
    try:
        parts = urlsplit(url)
    except ValueError:
        return {url}
    if parts.password:
        out.add(parts.password)
    if parts.scheme.startswith("workflow"):
        out |= {seg for seg in parts.path.split("/") if seg}
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if key.lower().lstrip("+") in ("pass", "password", "sig", "signature", "token", "secret", "key", "apikey"):
            out.add(value)
    return {s for s in out if len(s) >= 4}  # too short to redact meaningfully


def scrub(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def register(url: str) -> None:
    """Remember a URL's secrets and make sure the log scrubber is installed."""
    found = secrets_of(url)
    if found - _secrets:
        with _lock:
            _secrets.update(found)
    install()


def install() -> None:
    global _installed
    if _installed:
        return
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _secrets:
                try:
                    message = record.getMessage()
                except Exception:  # noqa: BLE001 - a malformed record is logging's problem, not ours
                    return record
                clean = scrub(message)
                if clean != message:
                    record.msg, record.args = clean, ()
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


_USERINFO = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def safe_url(url: str) -> str:
    """A URL fit to show: Apprise's privacy form where Apprise knows the schema."""
    import apprise

    try:
        obj = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # noqa: BLE001 - fall through to the generic masking below
        obj = None
    if obj:
        return obj.url(privacy=True)
    parts = urlsplit(url)
    if parts.scheme.startswith("workflow"):
        return f"{parts.scheme}://{parts.netloc}/{MASK}/{MASK}/"
    return _USERINFO.sub(rf"\1{MASK}@", url)
