"""The channel registry: adding a channel is one new file and one line here."""

from alerts.notify.channels.base import Channel
from alerts.notify.channels.email import EmailChannel
from alerts.notify.channels.teams import TeamsChannel

CHANNELS: dict[str, Channel] = {"email": EmailChannel(), "teams": TeamsChannel()}
