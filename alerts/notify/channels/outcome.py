"""One Apprise call with one URL, and its result as an Outcome (shared by every channel)."""

from __future__ import annotations

import time

import apprise
from apprise.exception import AppriseImproperlyConfigured

from alerts.notify.channels.base import Outcome, SendResult
from alerts.notify.redact import scrub
from config import Settings

_STATUS = {
    apprise.AppriseResultStatus.SUCCESS: Outcome.SENT,
    apprise.AppriseResultStatus.TIMEOUT: Outcome.UNKNOWN,  # it may have gone
    apprise.AppriseResultStatus.FAILURE: Outcome.FAILED,
    apprise.AppriseResultStatus.PARTIAL: Outcome.FAILED,
    apprise.AppriseResultStatus.NOMATCH: Outcome.CONFIG_ERROR,
}


def notify_once(url: str | None, title: str, body: str, body_format: str, settings: Settings,
                started: float | None = None, problem: str | None = None) -> SendResult:
    started = started or time.monotonic()
    if url is None:
        return SendResult(Outcome.CONFIG_ERROR, problem or "no URL", 0.0)
    notifier = apprise.Apprise()
    try:
        added = notifier.add(url)
    except Exception as exc:  # noqa: BLE001 - Apprise raises on some malformed URLs
        return SendResult(Outcome.CONFIG_ERROR, scrub(f"invalid notification URL ({type(exc).__name__})"), 0.0)
    if not added:
        return SendResult(Outcome.CONFIG_ERROR, "the notification URL was not accepted by Apprise", 0.0)
    try:
        result = notifier.notify(title=title, body=body, body_format=body_format, timeout=settings.send_timeout)
    except AppriseImproperlyConfigured as exc:
        return SendResult(Outcome.CONFIG_ERROR, scrub(f"improperly configured: {exc}"), time.monotonic() - started)
    outcome = _STATUS.get(result.status, Outcome.FAILED)
    # r.url is Apprise's privacy form, but its query still holds the recipient's address and the
    # unsubscribe token: show scheme, host and path only.
    services = "; ".join(f"{r.name} {r.url.partition('?')[0]} {r.status.name.lower()}" for r in result)
    return SendResult(outcome, scrub(f"{result.status.name.lower()}: {services}"), time.monotonic() - started)
