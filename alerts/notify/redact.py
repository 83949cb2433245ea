"""Secrets never reach logs, errors or the delivery log.

Apprise logs the Workflows POST URL (its workflow id) at DEBUG, and on a connection error the
requests exception text, which holds the whole request URL with `sig=`; urllib3 logs request
lines with `sig=` at DEBUG; an SMTP password sits in the mailto URL. So:

- channels `register()` every URL they use: its password, workflow id and signature become
  secrets (raw and percent-decoded forms);
- a log-record factory scrubs every record of every logger (Apprise's per-call log capture, a
  test's caplog, handlers added later) before any handler or filter sees it: the message, the
  exception text and the stack text; registered secrets and, for URLs nobody registered, the
  password / `sig=` / workflow-id parts of anything that looks like a URL become `****`;
- `install_log_redaction()` also sets the `apprise` and `urllib3` loggers to WARNING unless
  they were configured, so their request lines are not even made.

A record's cost does not grow with the number of registered secrets (see SecretRegistry).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MASK = "****"
_MIN_SECRET = 6  # shorter strings are too common to mask without garbling logs (URL patterns still apply)
# Secrets are URL parts (passwords, workflow ids, signatures, tokens): a log line is cut into
# tokens at the characters that delimit them, and each token is looked up in a set, so a
# record's cost does not grow with the number of registered secrets (10,000 Teams URLs).
_DELIMITERS = r"\s'\"<>()\[\]{}/?&=#:@;,|\\"
_TOKEN = re.compile(rf"(?:[^{_DELIMITERS}%]|%(?![0-9A-Fa-f]{{2}}))+")  # %2F and the like delimit too
_HAS_DELIMITER = re.compile(rf"[{_DELIMITERS}%]")


class SecretRegistry:
    """Secrets to mask. Whole tokens: a set; the few holding a delimiter or a %-escape (an SMTP
    password, not a per-subscriber secret): a short tuple searched as substrings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tokens: frozenset[str] = frozenset()  # replaced whole under the lock, read without it
        self.odd: tuple[str, ...] = ()  # longest first

    def add(self, found: Iterable[str]) -> None:
        new = {s for s in found if s and len(s) >= _MIN_SECRET} - self.tokens - set(self.odd)
        if not new:
            return
        with self._lock:
            odd = {s for s in new if _HAS_DELIMITER.search(s)}
            self.tokens = self.tokens | (new - odd)
            if odd:
                self.odd = tuple(sorted({*self.odd, *odd}, key=len, reverse=True))

    def _mask(self, match: re.Match[str]) -> str:
        token = match.group()
        if token in self.tokens:
            return MASK
        bare = token.rstrip(".")  # a secret at the end of a sentence
        return MASK + token[len(bare):] if bare != token and bare in self.tokens else token

    def scrub(self, text: str) -> str:
        for secret in self.odd:
            if secret in text:
                text = text.replace(secret, MASK)
        if self.tokens:
            text = _TOKEN.sub(self._mask, text)
        if any(hint in text for hint in _HINTS):
            for pattern, replacement in _PATTERNS:
                text = pattern.sub(replacement, text)
        return text


_REGISTRY = SecretRegistry()
_lock = threading.Lock()
_installed = False
QUIETED = ("apprise", "urllib3")  # their DEBUG holds request URLs; WARNING unless configured otherwise

_SECRET_KEYS = ("pass", "password", "pwd", "sig", "signature", "token", "secret", "key", "apikey")
# Parts of URLs that are secret even when nobody registered them.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:PASSWORD@host (Apprise's own privacy form user:****@ is left as it is)
    (re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s'\"]*:)(?!\*{4}@)[^@/\s'\"]+@", re.I), rf"\1{MASK}@"),
    # ?sig=... &password=... (also inside requests' "Max retries exceeded with url: ..." text)
    (re.compile(rf"([?&;](?:{'|'.join(_SECRET_KEYS)})=)(?!\*{{4}})[^&;#\s'\"]+", re.I), rf"\1{MASK}"),
    # https://host/.../workflows/WORKFLOW-ID/triggers/...
    (re.compile(r"(/workflows/)(?!\*{4}/)[^/?#\s'\"]+(/triggers)", re.I), rf"\1{MASK}\2"),
    # workflows://host[:port]/WORKFLOW-ID/SIGNATURE (Apprise's privacy form a...b/c...d is kept)
    (re.compile(r"(workflows?://[^/\s'\"]+/)(?![^/\s'\"]*\.\.\.)[^/?#\s'\"]+(?:/(?![^/\s'\"]*\.\.\.)[^/?#\s'\"]+)?",
                re.I), rf"\1{MASK}/{MASK}"),
)
_HINTS = ("://", "=", "/workflows/")


def secrets_of(url: str) -> set[str]:
    """The parts of an Apprise URL that must never be shown: the password, for Workflows URLs
    the workflow id and signature, and any query value named like a secret (`sig`, `pass`, ...).
    Both the form in the URL and its percent-decoded form."""
    out: set[str] = set()
    try:
        parts = urlsplit(url.strip())
        password = parts.password
    except ValueError:
        return {url}
    if password:
        out.add(password)
    segments = [seg for seg in parts.path.split("/") if seg]
    if parts.scheme.lower().startswith("workflow"):
        out.update(segments[:2])  # workflows://host/WORKFLOW/SIGNATURE/
    for i, seg in enumerate(segments[:-1]):
        if seg.lower() == "workflows":  # the native https://.../workflows/WORKFLOW/triggers/... form
            out.add(segments[i + 1])
    for pair in re.split(r"[&;]", parts.query):
        key, _, value = pair.partition("=")
        if value and unquote(key).lower().lstrip("+") in _SECRET_KEYS:
            out.add(value)
    out |= {unquote(s) for s in out}
    return {s for s in out if len(s) >= _MIN_SECRET}


def scrub(text: str) -> str:
    """`text` with every registered secret, and the secret parts of any URL in it, masked."""
    return _REGISTRY.scrub(text)


def _add(found: Iterable[str]) -> None:
    _REGISTRY.add(found)


def register(url: str) -> None:
    """Remember a URL's secrets and make sure the log scrubber is installed."""
    _add(secrets_of(url))
    install()


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logging's problem, not ours
        return
    clean = scrub(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        # Formatters use exc_text when it is set: a traceback holding a secret is formatted
        # here, scrubbed (one without is left to the handler's own formatter).
        text = logging.Formatter().formatException(record.exc_info)
        if scrub(text) != text:
            record.exc_text = scrub(text)
    elif record.exc_text:
        record.exc_text = scrub(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)


def install() -> None:
    """Scrub every log record created from now on, whatever logger or handler it goes to."""
    global _installed
    if _installed:
        return
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def quiet(level: int = logging.WARNING) -> None:
    """Apprise and urllib3 log at `level` and above unless their level was set explicitly (an
    operator debugging a channel can still turn them up; the scrubber covers them then too)."""
    for name in QUIETED:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)


def install_log_redaction(secrets: Iterable[str] = ()) -> None:
    """Mask `secrets` in all logging from now on. An item holding `://` is taken as an Apprise
    URL and its secret parts are registered; any other item is a secret as it stands (e.g. a
    token). Safe to call more than once (each call adds secrets)."""
    for item in secrets:
        if not item:
            continue
        if "://" in item:
            _add(secrets_of(item))
        else:
            _add({item})
    install()
    quiet()


_USERINFO = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def safe_url(url: str) -> str:
    """A URL fit to show: Apprise's privacy form where Apprise knows the schema; otherwise the
    URL with its password, signature-like query values and workflow ids masked."""
    import apprise

    try:
        obj = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # noqa: BLE001 - fall through to the generic masking below
        obj = None
    if obj:
        return scrub(obj.url(privacy=True))
    parts = urlsplit(url) if "://" in url else None
    if parts is not None and parts.scheme.lower().startswith("workflow"):
        return f"{parts.scheme}://{parts.netloc}/{MASK}/{MASK}/"
    text = _USERINFO.sub(rf"\1{MASK}@", url)
    for secret in secrets_of(url):
        text = text.replace(secret, MASK)
    return scrub(text)
