"""What every request of one app shares: settings, the catalogue, the dispatcher, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fastapi import Request

from alerts.web.snapshot import Snapshot

if TYPE_CHECKING:
    from alerts.api.metrics import Metrics
    from alerts.steps import Dispatcher
    from alerts.usecases.intake import Intake
    from config import Settings
    from rules.catalog import Catalog


@dataclass
class ApiState:
    settings: Settings
    catalog: Catalog
    dispatcher: Dispatcher
    metrics: Metrics
    broker: Any = field(default=None)  # a redis.Redis for health and queue depth, None without a broker
    signing_key: bytes | None = None  # the install's key (web sessions, sign-in links), read on first use
    snapshot: Snapshot = field(default_factory=Snapshot)  # the position now, for the board and /api/status
    sessions: Any = field(default=None)  # alerts.web.security.SessionCache, made by create_app
    failures: Any = field(default=None)  # alerts.api.guessing.FailureLimiter, made by create_app
    # sends sign-in links after the answer (a concurrent.futures.Executor, made by create_app)
    mailer: Any = field(default=None)

    @cached_property
    def intake(self) -> Intake:
        """The app's one intake: every upload (the API, the web page) lands through it."""
        from alerts.usecases.intake import Intake

        return Intake(self.settings, self.dispatcher.evaluate, self.catalog)


def state_of(request: Request) -> ApiState:
    return request.app.state.api
