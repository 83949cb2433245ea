"""The channel registry: adding a channel is one new file and one line here.

ALERTS: where a subscriber's alerts go (email and Teams, through Apprise). A digest is a
delivery on the `digest` channel: sent, and retried, only by DigestEmail (its own SMTP session).
"""

from __future__ import annotations

from alerts.notify.channels.base import Channel
from alerts.notify.channels.digest_email import DigestEmail
from alerts.notify.channels.email import EmailChannel
from alerts.notify.channels.teams import TeamsChannel
from config import Settings

CHANNELS: dict[str, Channel] = {"email": EmailChannel(), "teams": TeamsChannel()}  # stateless: shared
ALERTS = tuple(CHANNELS)


def senders(settings: Settings) -> dict[str, Channel]:
    """Every channel a delivery row can name. The digest sender holds a session: close() it."""
    return {**CHANNELS, "digest": DigestEmail(settings)}
