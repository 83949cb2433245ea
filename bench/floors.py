"""Floors: the same work done with the bare standard library, measured in the same run.

Machines here vary by 1.5x from day to day, so a figure means something only beside a floor
taken minutes apart on the same machine: compare `figure / floor` across days, not seconds.
"""

from __future__ import annotations

import smtplib
import sqlite3
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path


def bare_sqlite(path: Path, returns: int, rows_per_return: int) -> float:
    """Seconds to insert returns x rows observation-like rows with sqlite3 executemany, one
    transaction per return, WAL on (what landing does, without rating or alerts)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE obs (id INTEGER PRIMARY KEY, provider TEXT, period TEXT, measure TEXT, value REAL)")
    conn.execute("CREATE INDEX ix ON obs (provider, period)")
    start = time.perf_counter()
    for r in range(returns):
        rows = [(f"la-{r:03d}", f"2024-{1 + i % 12:02d}", f"m{i % 15}", i * 0.5) for i in range(rows_per_return)]
        with conn:
            conn.executemany("INSERT INTO obs (provider, period, measure, value) VALUES (?, ?, ?, ?)", rows)
    took = time.perf_counter() - start
    conn.close()
    return took


def message(size: int) -> bytes:
    """A multipart/alternative email of about `size` bytes (8-bit text and HTML parts)."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "kpi-alerts@example.org", "someone@example.org", "Weekly KPI digest"
    line = "Single assessments within 45 working days: 81.6% (amber) ...\n"
    body = line * max(1, size // 2 // len(line))
    msg.set_content(body)
    msg.add_alternative(f"<html><body><pre>{body}</pre></body></html>", subtype="html")
    return msg.as_bytes(policy=SMTP)  # CRLF line ends, as on the wire


def bare_smtp(port: int, count: int, data: bytes, one_session: bool = True) -> float:
    """Seconds for smtplib to hand `count` copies of `data` to 127.0.0.1:port, over one
    session (the digest sender's way) or a new session each (Apprise's way)."""
    start = time.perf_counter()
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30) if one_session else None
    for i in range(count):
        if smtp is None or not one_session:
            smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        smtp.sendmail("kpi-alerts@example.org", [f"s{i}@example.org"], data)
        if not one_session:
            smtp.quit()
    if one_session and smtp is not None:
        smtp.quit()
    return time.perf_counter() - start
