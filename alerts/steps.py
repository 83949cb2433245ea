"""The pipeline's steps as a worker runs them, and how one step hands work to the next.

Each step opens its session, loads what it needs and calls one use case. What comes next is
handed to a `Dispatcher`:

- `InProcess` (the embedded default, no broker): the next step runs here and now;
- `ToWorkers` (KPI_ALERTS_BROKER_URL set): the next step is published to the Celery workers by
  task name, on its queue (`ROUTES`); `workers/tasks.py` registers these same steps under these
  same names.

Never depend on the broker being up: a return is landed, and so marked awaiting evaluation, in
one transaction; its evaluate task is published after the commit. When the broker is down the
publication fails fast (`PUBLISH_RETRY_POLICY`, `PUBLISH_CONNECT_TIMEOUT`), the caller gets a
`Deferred` instead of an exception, and the relay (`relay`: a beat task every
KPI_ALERTS_RELAY_SECONDS, and the start of every worker) publishes every return still awaiting
evaluation, recording when (`returns.published_at`); it also re-publishes one published
KPI_ALERTS_RELAY_STALE_SECONDS ago that no worker has finished (a worker killed whole).

So the command line, the use cases and the steps never import `workers`, and there is one
way each step runs, whichever process runs it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from alerts.digest.run import digest_audience, plan_digests
from alerts.digest.weeks import week_of
from alerts.events import Deferred, EvaluationOutcome
from alerts.notify import held, signin_link
from alerts.notify.channels import CHANNELS
from alerts.notify.channels.base import OutgoingMessage, Recipient, SendStatus
from alerts.notify.deliver import deliver as attempt
from alerts.notify.deliver import deliver_many
from alerts.store.db import session_for
from alerts.store.deliveries import due, next_attempt_at, pending_digests, recover_stale
from alerts.store.landing import claim_publication, release_publication
from alerts.store.models import utcnow
from alerts.store.secrets import signing_key
from alerts.store.web_users import UserRow
from alerts.usecases.evaluate import evaluate_return
from alerts.usecases.expected import check_returns
from alerts.usecases.holds import release_expired, tell_held
from alerts.usecases.inbox import InboxOutcome, scan_inbox
from alerts.usecases.ingest import ReturnLimits
from alerts.usecases.intake import Intake
from alerts.usecases.reminders import send_reminders
from alerts.usecases.signin import LINK_MINUTES, claim_link, link_path, unclaim_link, unmailed_requests
from config import Settings
from config.settings import BROKER_VISIBILITY_TIMEOUT
from rules.loader import load_catalog

EVALUATE = "kpi_alerts.evaluate_return"
DELIVER = "kpi_alerts.deliver"
SWEEP = "kpi_alerts.sweep_deliveries"
DIGEST_WEEK = "kpi_alerts.digest_week"
DIGEST_CHUNK = "kpi_alerts.digest_chunk"
REMINDERS = "kpi_alerts.reminders"
INBOX_SCAN = "kpi_alerts.inbox_scan"
RETURNS_CHECK = "kpi_alerts.returns_check"
RELAY = "kpi_alerts.relay"
HOLDS = "kpi_alerts.holds"
SIGNIN_MAIL = "kpi_alerts.signin_mail"

# Three queues, so a digest batch never delays a breach notification: a worker consumes all
# three unless told otherwise (`celery -A workers.app worker -Q evaluate,deliver,digest`).
QUEUES = ("evaluate", "deliver", "digest")
ROUTES = {EVALUATE: "evaluate", RELAY: "evaluate", DELIVER: "deliver", SWEEP: "deliver",
          DIGEST_WEEK: "digest", DIGEST_CHUNK: "digest", REMINDERS: "digest",
          INBOX_SCAN: "evaluate", RETURNS_CHECK: "digest", HOLDS: "evaluate", SIGNIN_MAIL: "deliver"}
# Publishing gives up fast when the broker is unreachable (a refused connection: about 0.2 s;
# a host that does not answer: the connect timeout; a Redis that accepts and never answers, as a
# stopped process does: the publisher's read timeout): the relay publishes it later.
PUBLISH_CONNECT_TIMEOUT = 2.0
PUBLISH_READ_TIMEOUT = 2.0  # `ingest` and the API; workers keep a longer one (their reads may block)
WORKER_READ_TIMEOUT = 10.0
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.2, "interval_max": 0.2}
RELAY_BATCH = 1000  # returns claimed per statement by one relay run

log = logging.getLogger(__name__)

DIGEST_SEND_SECONDS = 180  # of a chunk task's 240 s soft time limit: planning comes first


def broker_conf(settings: Settings, publisher: bool = False) -> dict[str, Any]:
    """The Celery settings of every process that talks to the broker: the workers' and beat's app
    (workers/app.py adds its own) and the publisher of `ingest` and the API (`publisher`: a short
    read timeout). Plain data: the embedded default never loads Celery."""
    return dict(
        broker_url=settings.broker_url or "memory://",
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUES[0],
        task_routes={name: {"queue": queue} for name, queue in ROUTES.items()},
        broker_connection_timeout=PUBLISH_CONNECT_TIMEOUT,
        task_publish_retry_policy=PUBLISH_RETRY_POLICY,
        # set explicitly: every countdown stays at most a quarter of it (config.MAX_BROKER_COUNTDOWN)
        broker_transport_options={"visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
                                  "socket_connect_timeout": PUBLISH_CONNECT_TIMEOUT,
                                  "socket_timeout": PUBLISH_READ_TIMEOUT if publisher else WORKER_READ_TIMEOUT},
    )


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"


class Dispatcher(Protocol):
    def evaluate(self, return_id: int, claimed: bool = False) -> EvaluationOutcome | Deferred | None:
        """The outcome when evaluated here; None when a worker will (the caller waits);
        Deferred when the broker could not take it now (the relay will publish it).
        `claimed`: landed marked handed on (alerts/usecases/ingest.py `Dispatch`)."""
    def deliver(self, delivery_ids: Sequence[int]) -> None: ...

    def deliver_later(self, delivery_id: int, wait_seconds: float) -> None:
        """A retry that is due in `wait_seconds` (its time is kept in the database too)."""
    def digest_chunk(self, week: str, subscriber_ids: list[int]) -> None: ...

    def signin_mail(self, request_id: int) -> None:
        """A recorded sign-in request: its link made and emailed (to a known address only).
        Called off the request (the API's background executor, the sweep), never waited for."""


class InProcess:
    """No broker: every step runs in this process, at once."""
    def __init__(self, settings: Settings):
        self.settings = settings

    def evaluate(self, return_id: int, claimed: bool = False) -> EvaluationOutcome:
        """Retried once (a transient failure: a locked database, a dropped connection); a
        second failure is raised, and the return stays pending (`kpi-alerts returns pending`),
        released (no longer in flight) for the next ingest of the same bytes. Only a finished
        evaluation marks it evaluated."""
        try:
            return evaluate(self.settings, self, return_id)
        except Exception as exc:
            log.warning("evaluation of return %s failed (%s); retrying once", return_id, type(exc).__name__)
            log.debug("the failed evaluation of return %s", return_id, exc_info=True)
        try:
            return evaluate(self.settings, self, return_id)
        except Exception:
            try:  # no longer in flight: the next ingest of the same bytes evaluates it at once
                with session_for(self.settings.database_url) as session:
                    release_publication(session, [return_id])
            except Exception:  # noqa: BLE001 - the evaluation's own error is the one to report
                log.warning("return %s could not be released after its failed evaluation", return_id)
            raise

    def deliver(self, delivery_ids: Sequence[int]) -> None:
        for delivery_id in delivery_ids:
            deliver(self.settings, self, delivery_id)

    def deliver_later(self, delivery_id: int, wait_seconds: float) -> None:
        """Nothing to schedule: `kpi-alerts deliveries flush` (or beat's sweep) sends due retries."""
    def digest_chunk(self, week: str, subscriber_ids: list[int]) -> None:
        digest_chunk(self.settings, week, subscriber_ids)

    def signin_mail(self, request_id: int) -> None:
        signin_mail(self.settings, request_id)


class ToWorkers:
    """Publishes each next step to the Celery workers by task name. Only ids travel: the
    broker holds no personal data or secrets."""
    def __init__(self, settings: Settings, send_task: Callable[..., Any] | None = None):
        self.settings = settings
        self._send = send_task or _producer(settings).send_task

    def evaluate(self, return_id: int, claimed: bool = False) -> Deferred | None:
        """Publish the return's evaluation (landed and committed before): None once published, or
        when a relay has just claimed it; Deferred when the broker is unreachable. Never raises
        for the broker: the return stays pending and the relay publishes it. `claimed`: marked
        published by its landing already; otherwise claimed here first."""
        now = utcnow()
        with session_for(self.settings.database_url) as session:
            ids = [return_id] if claimed else claim_publication(session, now, self._stale_cutoff(now),
                                                                 return_id=return_id)
            if not ids:
                return None
            failed = self._publish(session, ids)
        return Deferred(return_id, failed) if failed else None

    def publish_pending(self) -> int:
        """The relay's work: publish every return awaiting evaluation that was never published or
        whose publication went stale; how many were published. Stops at the first broker error
        (the rest stay for the next run)."""
        total = 0
        while True:
            now = utcnow()
            with session_for(self.settings.database_url) as session:
                claimed = claim_publication(session, now, self._stale_cutoff(now), RELAY_BATCH)
                if not claimed:
                    return total
                failed = self._publish(session, claimed)
            if failed:
                log.warning("relay: the broker is unreachable (%s); %d return(s) stay pending", failed, len(claimed))
                return total
            total += len(claimed)
            if len(claimed) < RELAY_BATCH:
                return total

    def _stale_cutoff(self, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(seconds=self.settings.relay_stale_seconds)

    def _publish(self, session: Any, return_ids: list[int]) -> str | None:
        """Send the claimed evaluations; on a broker error release those not sent (published_at
        back to NULL) and say why, in one line."""
        for i, return_id in enumerate(return_ids):
            try:
                self._send(EVALUATE, args=(return_id,))
            except Exception as exc:  # whatever stops publishing, the return stays pending for the relay
                log.info("publishing the evaluation of return %s failed", return_id, exc_info=True)
                release_publication(session, return_ids[i:])
                return _one_line(exc)
        return None

    def deliver(self, delivery_ids: Sequence[int]) -> None:
        """The rows are in the outbox already: one the broker does not take now is sent by the
        sweep (beat, every minute) once it is back."""
        for delivery_id in delivery_ids:
            try:
                self._send(DELIVER, args=(delivery_id,))
            except Exception as exc:
                log.warning("delivery %s not handed to the workers (%s); the sweep sends it", delivery_id,
                            _one_line(exc))
                return

    def deliver_later(self, delivery_id: int, wait_seconds: float) -> None:
        # Capped far below the broker's visibility timeout, so Redis never re-runs it early;
        # a retry still waiting after the cap is re-sent by the next deliver or the sweep.
        countdown = max(0.0, min(wait_seconds, self.settings.delivery_backoff_max))
        self._send(DELIVER, args=(delivery_id,), countdown=countdown)

    def digest_chunk(self, week: str, subscriber_ids: list[int]) -> None:
        self._send(DIGEST_CHUNK, args=(week, subscriber_ids))

    def signin_mail(self, request_id: int) -> None:
        """Only the id travels; one the broker does not take now is handed on by the sweep."""
        try:
            self._send(SIGNIN_MAIL, args=(request_id,))
        except Exception as exc:
            log.warning("sign-in request %s not handed to the workers (%s); the sweep sends it", request_id,
                        _one_line(exc))


def _producer(settings: Settings) -> Any:
    from celery import Celery  # only when publishing: the embedded default never loads Celery

    app = Celery("kpi_alerts", set_as_current=False)
    app.conf.update(broker_conf(settings, publisher=True))
    return app


def dispatcher_for(settings: Settings) -> Dispatcher:
    return InProcess(settings) if settings.eager else ToWorkers(settings)


# --- the steps ----------------------------------------------------------------------------


def evaluate(settings: Settings, dispatcher: Dispatcher, return_id: int) -> EvaluationOutcome:
    """Rate a landed return and move its alerts; then hand the outbox rows it wrote (committed
    with the transitions) to the deliver step."""
    with session_for(settings.database_url) as session:
        outcome = evaluate_return(session, load_catalog(settings.rules_dir), return_id, utcnow(), settings.base_url,
                                  settings.timezone)
    dispatcher.deliver(outcome.deliveries)
    return outcome


def deliver(settings: Settings, dispatcher: Dispatcher, delivery_id: int) -> str:
    """Attempt one delivery if it is due; schedule its retry if it is still pending."""
    with session_for(settings.database_url) as session:
        status = attempt(session, settings, delivery_id, utcnow())
        if status == "pending":
            at = next_attempt_at(session, delivery_id)
            if at is not None:
                dispatcher.deliver_later(delivery_id, (at - utcnow()).total_seconds())
    return status


def sweep(settings: Settings, dispatcher: Dispatcher) -> int:
    """Stale 'sending' rows become 'unknown'; due retries are handed to the deliver step, and
    sign-in requests whose mail step never ran (still unexpired) to the signin_mail step."""
    now = utcnow()
    with session_for(settings.database_url) as session:
        recover_stale(session, now, dt.timedelta(seconds=2 * settings.send_timeout + 60))
        ids = due(session, now)
        requests = unmailed_requests(session, now)
    dispatcher.deliver(ids)
    for request_id in requests:
        dispatcher.signin_mail(request_id)
    return len(ids)


def signin_mail(settings: Settings, request_id: int) -> str:
    """Claim the sign-in request (once: a re-delivered task sends nothing), and for a user or a
    subscriber make the link, from KPI_ALERTS_BASE_URL only, and email it; a stranger gets
    nothing. A refused email leaves the request pending for the sweep."""
    base = settings.base_url.rstrip("/")  # never a request's Host: the link would go where it says
    if not base:
        log.error("KPI_ALERTS_BASE_URL is not set: no sign-in link can be emailed (kpi-alerts users link prints one)")
        return "no base url"
    with session_for(settings.database_url) as session:
        link = claim_link(session, request_id, utcnow())
        if link is None:
            return "nothing to send"  # a stranger, expired, or claimed before
        url = base + link_path(signing_key(session, settings), link.nonce, link.landing)
        message = signin_link.message(url, link.name, LINK_MINUTES, f"signin-{request_id}")
        result = CHANNELS["email"].send(Recipient(link.name or link.email, link.email, None), message, settings)
        if result.status == SendStatus.FAILED:
            unclaim_link(session, request_id)
        if result.status != SendStatus.SENT:
            log.warning("the sign-in link of request %s was not sent: %s", request_id, result.detail)
    return str(result.status)


def digest_week(settings: Settings, dispatcher: Dispatcher, week: str | None = None) -> dict:
    """Beat's Monday trigger: the week's audience in chunks, one digest_chunk step each."""
    week = week or week_of(utcnow(), settings.timezone)
    with session_for(settings.database_url) as session:
        audience = sorted(digest_audience(session))
    size = settings.digest_chunk_size
    chunks = [audience[i:i + size] for i in range(0, len(audience), size)]
    for chunk in chunks:
        dispatcher.digest_chunk(week, chunk)
    return {"week": week, "subscribers": len(audience), "chunks": len(chunks)}


def digest_chunk(settings: Settings, week: str, subscriber_ids: list[int]) -> dict:
    """Plan (ledger + outbox, exactly once per subscriber and week) and send one chunk, over
    one SMTP session by the digest sender; what is left at the deadline, or while the server
    is down, stays pending for the sweep (whose deliver step uses the same sender)."""
    with session_for(settings.database_url) as session:
        plan = plan_digests(session, load_catalog(settings.rules_dir), week, settings.timezone, utcnow(),
                            subscriber_ids, settings.base_url, settings.digest_max_rows, settings.digest_weekday)
        pending = pending_digests(session, week, subscriber_ids)  # a rerun also sends what one before planned
        sent = deliver_many(session, settings, pending, deadline=time.monotonic() + DIGEST_SEND_SECONDS)
    return {"week": week, "queued": len(plan.queued), "skipped": len(plan.skipped), "already": len(plan.already),
            "statuses": dict(sent), "skipped_because": dict(Counter(plan.reasons.values()))}


def relay(settings: Settings, to_workers: ToWorkers | None) -> int:
    """Beat's relay (every KPI_ALERTS_RELAY_SECONDS) and every worker's first act: publish the
    returns awaiting evaluation (see the module docstring). Without a broker there is nothing
    to relay (None): the embedded default evaluates as it lands."""
    return 0 if to_workers is None else to_workers.publish_pending()


def reminders(settings: Settings, dispatcher: Dispatcher, now: dt.datetime | None = None) -> int:
    """Beat's daily trigger: on the reminder weekday (local), the week's due reminders as one
    batch, one message per subscriber and channel; on the other days nothing. `now`: the wall
    clock unless given (a simulated day)."""
    with session_for(settings.database_url) as session:
        ids = send_reminders(session, load_catalog(settings.rules_dir), now or utcnow(), settings.base_url,
                             weekday=settings.reminder_weekday, timezone=settings.timezone)
    dispatcher.deliver(ids)
    return len(ids)


def inbox_scan(settings: Settings, dispatcher: Dispatcher, wait: bool = False) -> list[InboxOutcome]:
    """One scan of KPI_ALERTS_INBOX_DIR (nothing without one): every settled file landed as
    `ingest` lands it, then moved to done/ or rejected/ (alerts/usecases/inbox.py). Beat's scans
    are each other's second look; `wait` (a one-off scan) looks again itself. In broker mode the
    evaluation is queued, never waited for."""
    if settings.inbox_dir is None:
        return []
    intake = Intake(settings, dispatcher.evaluate)
    outcomes = scan_inbox(settings.inbox_dir, intake.land, limits=ReturnLimits.of(settings),
                          settle_seconds=settings.inbox_settle_seconds, wait=wait)
    if any(o.status == "held" for o in outcomes):
        tell(settings)  # nobody saw the queries of a file dropped in the inbox
    return outcomes


def returns_check(settings: Settings, dispatcher: Dispatcher, now: dt.datetime | None = None) -> int:
    """Beat's daily trigger: a missing return opens its provider's return_overdue_<kind> alert
    (idempotent: a second run, or a second beat, opens nothing twice); then the deliver step."""
    with session_for(settings.database_url) as session:
        ids = check_returns(session, load_catalog(settings.rules_dir), now or utcnow(), settings.timezone,
                            settings.base_url)
    dispatcher.deliver(ids)
    return len(ids)


def holds(settings: Settings, dispatcher: Dispatcher, now: dt.datetime | None = None) -> dict:
    """Beat's holds step (every 5 minutes; `kpi-alerts returns release` for cron): every return
    held KPI_ALERTS_QUERY_HOLD_HOURS unconfirmed is released and evaluated (its messages say it is
    not confirmed by the sender), then the performance team hears of any held return it has not
    heard of yet. `now`: the wall clock unless given."""
    now = now or utcnow()
    with session_for(settings.database_url) as session:
        # each evaluation hands its outbox rows to the deliver step itself (`evaluate`)
        released = release_expired(session, load_catalog(settings.rules_dir), now, settings.query_hold_hours,
                                   dispatcher.evaluate)
    return {"released": [r.landed.return_id for r in released if r.landed], "told": tell(settings, now)}


def tell(settings: Settings, now: dt.datetime | None = None) -> list[int]:
    """Email the performance team (users with the performance or admin role) about each held
    return nobody has been told of (landed by the API or the inbox folder), once: the ids told.
    Without KPI_ALERTS_EMAIL_URL nothing is sent (they stay untold: `returns pending` lists them)."""
    if not settings.email_url.strip():
        return []
    channel = CHANNELS["email"]

    def send(user: UserRow, notice: held.HeldNotice) -> bool:
        name = user.name or user.email
        message = OutgoingMessage(f"held-{notice.return_id}-{user.id}", notice.subject, held.html(notice, name),
                                  held.text(notice, name), "info")
        result = channel.send(Recipient(name, user.email, None), message, settings)
        if result.status != SendStatus.SENT:
            log.warning("the notice of held return %s was not sent to user %s: %s", notice.return_id, user.id,
                        result.detail)
        return result.status == SendStatus.SENT

    with session_for(settings.database_url) as session:
        return tell_held(session, now or utcnow(), settings.query_hold_hours, settings.base_url, send)
