"""The sign-in email (issue 12): its link, made by the signin_mail step from KPI_ALERTS_BASE_URL
(never a request's Host), works once, for LINK_MINUTES."""

from __future__ import annotations

from alerts.notify.channels.base import OutgoingMessage
from alerts.templating import environment

SUBJECT = "Your kpi-alerts sign-in link"


def message(url: str, name: str, minutes: int, key: str) -> OutgoingMessage:
    """`key`: names the message in logs (a prefix of nothing secret)."""
    text = (f"Sign in to kpi-alerts: {url}\n\nThe link works once, for {minutes} minutes. If you did not ask for "
            "it, ignore this email: nobody can sign in without the link.\n")
    html = environment().get_template("signin_email.html").render(url=url, minutes=minutes, name=name)
    return OutgoingMessage(key, SUBJECT, html, text, "info")
