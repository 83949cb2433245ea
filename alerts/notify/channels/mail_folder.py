"""KPI_ALERTS_MAIL_FOLDER: every email written to a folder as an .eml file instead of being sent
(the local `kpi-alerts demo --serve`). The bytes are the ones the SMTP server would get (the
message Apprise or the digest sender prepared, headers and X-Notification-Id included); the file
is named from the delivery key, so a retried delivery replaces its own file: one per delivery.
Written under a temporary name and renamed, so a reader never sees half a message."""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def file_name(key: str) -> str:
    """A delivery key as a file name: readable, and unique even when characters were replaced."""
    safe = _UNSAFE.sub("_", key)[:80] or "message"
    return f"{safe}-{hashlib.sha256(key.encode()).hexdigest()[:8]}.eml"


def write_message(folder: str | Path, key: str, data: bytes | str) -> Path:
    """Write one message atomically; the same key replaces the same file."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=target, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        path = target / file_name(key)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True)
class Mail:
    name: str
    subject: str
    to: str
    date: str
    text: str | None
    html: str | None


def read_mail(path: Path) -> Mail:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    return Mail(path.name, str(message["Subject"] or ""), str(message["To"] or ""), str(message["Date"] or ""),
                text.get_content() if text is not None else None, html.get_content() if html is not None else None)


def _when(mail: Mail) -> float:
    try:
        return parsedate_to_datetime(mail.date).timestamp()
    except (TypeError, ValueError):
        return 0.0


def list_mail(folder: str | Path) -> list[Mail]:
    """The folder's messages, newest first."""
    root = Path(folder)
    if not root.is_dir():
        return []
    mails = [read_mail(p) for p in root.glob("*.eml") if not p.name.startswith(".")]
    return sorted(mails, key=lambda m: (_when(m), m.name), reverse=True)


def mail_path(folder: str | Path, name: str) -> Path | None:
    """One message by its file name (never a path outside the folder)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+\.eml", name) or name.startswith("."):
        return None
    path = Path(folder) / name
    return path if path.is_file() else None
