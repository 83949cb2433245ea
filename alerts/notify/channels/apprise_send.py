"""One Apprise call with one URL, and its result as a SendStatus (the alert channels')."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import apprise
from apprise.exception import AppriseImproperlyConfigured

from alerts.notify.channels.base import SendResult, SendStatus
from alerts.notify.redact import scrub
from config import Settings

_STATUS = {
    apprise.AppriseResultStatus.SUCCESS: SendStatus.SENT,
    apprise.AppriseResultStatus.TIMEOUT: SendStatus.UNKNOWN,  # it may have gone
    apprise.AppriseResultStatus.FAILURE: SendStatus.FAILED,
    apprise.AppriseResultStatus.PARTIAL: SendStatus.FAILED,
    apprise.AppriseResultStatus.NOMATCH: SendStatus.CONFIG_ERROR,
}


def config_error(problem: str) -> SendResult:
    return SendResult(SendStatus.CONFIG_ERROR, problem, 0.0)


def timeout_problem(settings: Settings) -> str | None:
    if math.isfinite(settings.send_timeout) and settings.send_timeout >= 0:
        return None
    return f"send_timeout must be a finite number >= 0, not {settings.send_timeout}"


def notify_once(url: str, title: str, body: str, body_format: str, settings: Settings,
                configure: Callable[[Any], None] | None = None) -> SendResult:
    """`configure(service)`: set what a URL cannot carry on the Apprise plugin before it sends
    (the email's own text part)."""
    started = time.monotonic()
    problem = timeout_problem(settings)
    if problem:
        return config_error(problem)
    notifier = apprise.Apprise()
    try:
        service = apprise.Apprise.instantiate(url)
    except Exception as exc:  # noqa: BLE001 - Apprise raises on some malformed URLs
        return config_error(scrub(f"invalid notification URL ({type(exc).__name__})"))
    if service is None or not notifier.add(service):
        return config_error("the notification URL was not accepted by Apprise")
    if configure is not None:
        configure(service)
    try:
        result = notifier.notify(title=title, body=body, body_format=body_format, timeout=settings.send_timeout)
    except AppriseImproperlyConfigured as exc:
        return SendResult(SendStatus.CONFIG_ERROR, scrub(f"improperly configured: {exc}"), time.monotonic() - started)
    status = _STATUS.get(result.status, SendStatus.FAILED)
    # r.url is Apprise's privacy form, but its query still holds the recipient's address and the
    # unsubscribe token: show scheme, host and path only.
    services = "; ".join(f"{r.name} {r.url.partition('?')[0]} {r.status.name.lower()}" for r in result)
    return SendResult(status, scrub(f"{result.status.name.lower()}: {services}"), time.monotonic() - started)
