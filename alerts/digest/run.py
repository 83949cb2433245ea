"""Plan a week's digests: exactly one per subscriber per ISO week.

Each digest is a ledger row (UNIQUE subscriber + week) and an outbox delivery, committed
together; the deliver task sends it like any notification (claim, send, record, retry). A
second run of the same week, a beat that fires twice, or a rerun after a crash mid-batch
finds the ledger rows and only plans the subscribers that are missing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from sqlmodel import Session

from alerts.digest.compose import DIGEST, DigestModel, compose
from alerts.digest.load import WeekCache, load_week
from alerts.digest.render import render_digest
from alerts.digest.weeks import previous_week
from alerts.notify.pipeline import load_routes
from alerts.notify.route import Route
from alerts.notify.unsubscribe import LINK_MARK
from alerts.store import digests as store
from alerts.store.models import Subscriber
from config import Settings
from rules.catalog import Catalog

DEFAULT_MAX_ROWS: int = Settings.model_fields["digest_max_rows"].default

# A worker process plans chunk after chunk of the same week: the week's data, and each row's
# rendering, are loaded once and reused while the database holds nothing newer.
WEEKS = WeekCache()


@dataclass
class DigestPlan:
    week: str
    queued: list[int] = field(default_factory=list)  # delivery ids to send
    skipped: list[int] = field(default_factory=list)  # subscribers with an empty digest who opted out
    already: list[int] = field(default_factory=list)  # subscribers whose digest for the week exists


def digest_audience(session: Session, subscriber_ids: list[int] | None = None) -> dict[int, list[Route]]:
    """Subscribers with an email address and at least one digest (or both) subscription (of
    `subscriber_ids` when given), with those subscriptions."""
    routes, recipients = load_routes(session, subscriber_ids)
    out: dict[int, list[Route]] = {}
    for r in routes:
        if r.takes(DIGEST) and recipients[r.subscriber_id].email:
            out.setdefault(r.subscriber_id, []).append(r)
    return out


def compose_for(session: Session, catalog: Catalog, timezone: str, week: str, subscriber_id: int,
                as_of: dt.datetime | None = None, max_rows: int = DEFAULT_MAX_ROWS) -> tuple[Subscriber, DigestModel]:
    """One subscriber's digest (a preview: nothing is recorded). Someone without a digest
    subscription sees the digest their subscriptions would make."""
    who = store.subscriber(session, subscriber_id)
    if who is None:
        raise LookupError(f"no subscriber with id {subscriber_id}")
    routes = digest_audience(session, [subscriber_id]).get(subscriber_id) or [
        replace(r, delivery=DIGEST) for r in load_routes(session, [subscriber_id])[0]]
    data = load_week(session, catalog, week, timezone, as_of)
    prev = store.counts_of(session, previous_week(week), [subscriber_id]).get(subscriber_id)
    return who, compose(who.name, routes, data, prev, max_rows)


def compose_week(session: Session, catalog: Catalog, week: str, timezone: str, now: dt.datetime
                 ) -> list[tuple[int, DigestModel]]:
    """Every subscriber's digest for `week`, composed and not recorded (`digest send --dry-run`)."""
    audience = digest_audience(session)
    data = load_week(session, catalog, week, timezone, now)
    names = store.names_and_opt_outs(session, sorted(audience))
    return [(sid, compose(names[sid][0], routes, data, None))
            for sid, routes in sorted(audience.items())]


def plan_digests(session: Session, catalog: Catalog, week: str, timezone: str, now: dt.datetime,
                 subscriber_ids: list[int] | None = None, base_url: str = "",
                 max_rows: int = DEFAULT_MAX_ROWS) -> DigestPlan:
    plan = DigestPlan(week)
    audience = digest_audience(session, subscriber_ids)
    wanted = sorted(audience if subscriber_ids is None else set(subscriber_ids) & set(audience))
    done = store.planned(session, week, wanted)
    plan.already = sorted(done)
    todo = [s for s in wanted if s not in done]
    if not todo:
        return plan
    data, cache = WEEKS.get(session, catalog, week, timezone, now)  # cache: rows rendered once per week's data
    previous = store.counts_of(session, previous_week(week), todo)
    people = store.names_and_opt_outs(session, todo)
    deliveries, ledger = [], []
    for sid in todo:
        name, empty_ok = people[sid]
        d = compose(name, audience[sid], data, previous.get(sid), max_rows)
        counts = {k: d.counts.get(k, 0) for k in ("green", "amber", "red")}
        if d.empty and not empty_ok:
            ledger.append(dict(subscriber_id=sid, week=week, status="skipped", counts=counts, created_at=now))
            plan.skipped.append(sid)
            continue
        # the link's signed token is made when the email leaves (deliver fills LINK_MARK)
        subject, html, text = render_digest(d, base_url, LINK_MARK if base_url else "", cache=cache)
        deliveries.append(dict(key=f"digest-{week}.s{sid}.email", subscriber_id=sid, channel="digest",
                               return_id=None, subject=subject, body_html=html, body_text=text,
                               severity="red" if d.counts.get("red") else "amber" if d.counts.get("amber") else "green",
                               events=[], status="pending", attempts=0, next_attempt_at=now, created_at=now))
        ledger.append(dict(subscriber_id=sid, week=week, status="queued", counts=counts, created_at=now))
    try:
        plan.queued = store.record_plan(session, deliveries, ledger)
    except store.AlreadyPlanned:  # another run planned some of these at the same moment: keep theirs, plan the rest
        return plan_digests(session, catalog, week, timezone, now, todo, base_url, max_rows)
    return plan
