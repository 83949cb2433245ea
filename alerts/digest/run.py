"""Plan a week's digests: exactly one per subscriber per ISO week.

A monthly subscriber gets one only in the week of the month's first digest day; every other
week their ledger row is `skipped` (reason `not_due`), written without composing anything.

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
from alerts.digest.load import WeekCache, load_period
from alerts.digest.render import render_digest
from alerts.digest.weeks import is_monthly_week, previous_monthly_week, previous_week
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
    skipped: list[int] = field(default_factory=list)  # subscribers with no digest this week (see reasons)
    already: list[int] = field(default_factory=list)  # subscribers whose digest for the week exists
    reasons: dict[int, str] = field(default_factory=dict)  # skipped subscriber -> store.EMPTY or store.NOT_DUE


def due(cadence: str, week: str, weekday: int) -> bool:
    """Whether a subscriber of `cadence` gets a digest in `week`: weekly every week, monthly in
    the week of the month's first digest day (`weekday`, KPI_ALERTS_DIGEST_WEEKDAY)."""
    return cadence != "monthly" or is_monthly_week(week, weekday)


def last_digest_week(cadence: str, week: str, weekday: int) -> str:
    """The week of the digest before this one: last week's, or last month's for a monthly one."""
    return previous_monthly_week(week, weekday) if cadence == "monthly" else previous_week(week)


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
                as_of: dt.datetime | None = None, max_rows: int = DEFAULT_MAX_ROWS, weekday: int = 0
                ) -> tuple[Subscriber, DigestModel]:
    """One subscriber's digest (a preview: nothing is recorded). Someone without a digest
    subscription sees the digest their subscriptions would make; a monthly subscriber, the
    monthly digest as it would cover the weeks since the last monthly digest, due or not."""
    who = store.subscriber(session, subscriber_id)
    if who is None:
        raise LookupError(f"no subscriber with id {subscriber_id}")
    routes = digest_audience(session, [subscriber_id]).get(subscriber_id) or [
        replace(r, delivery=DIGEST) for r in load_routes(session, [subscriber_id])[0]]
    data = load_period(session, catalog, week, timezone, as_of, who.digest_cadence, weekday)
    prev = store.counts_of(session, last_digest_week(who.digest_cadence, week, weekday), [subscriber_id]
                           ).get(subscriber_id)
    return who, compose(who.name, routes, data, prev, max_rows)


def compose_week(session: Session, catalog: Catalog, week: str, timezone: str, now: dt.datetime,
                 weekday: int = 0) -> list[tuple[int, DigestModel | None]]:
    """Every subscriber's digest for `week`, composed and not recorded (`digest send --dry-run`);
    None for a monthly subscriber not due one this week."""
    audience = digest_audience(session)
    people = store.names_and_opt_outs(session, sorted(audience))
    weekly = load_period(session, catalog, week, timezone, now)
    monthly = None
    out: list[tuple[int, DigestModel | None]] = []
    for sid, routes in sorted(audience.items()):
        name, _, cadence = people[sid]
        if not due(cadence, week, weekday):
            out.append((sid, None))
            continue
        if cadence == "monthly" and monthly is None:
            monthly = load_period(session, catalog, week, timezone, now, cadence, weekday, weekly)
        out.append((sid, compose(name, routes, monthly if cadence == "monthly" else weekly, None)))
    return out


def plan_digests(session: Session, catalog: Catalog, week: str, timezone: str, now: dt.datetime,
                 subscriber_ids: list[int] | None = None, base_url: str = "",
                 max_rows: int = DEFAULT_MAX_ROWS, weekday: int = 0) -> DigestPlan:
    """`weekday`: the digest day (KPI_ALERTS_DIGEST_WEEKDAY), which decides a monthly
    subscriber's week."""
    plan = DigestPlan(week)
    audience = digest_audience(session, subscriber_ids)
    wanted = sorted(audience if subscriber_ids is None else set(subscriber_ids) & set(audience))
    done = store.planned(session, week, wanted)
    plan.already = sorted(done)
    todo = [s for s in wanted if s not in done]
    if not todo:
        return plan
    people = store.names_and_opt_outs(session, todo)
    previous: dict[str, dict[int, dict]] = {}  # cadence -> subscriber -> the last digest's counts
    period: dict[str, tuple] = {}  # cadence -> (its data, the rows' render cache)
    deliveries, ledger = [], []
    for sid in todo:
        name, empty_ok, cadence = people[sid]
        if not due(cadence, week, weekday):  # monthly, and not the month's first digest day
            ledger.append(dict(subscriber_id=sid, week=week, status="skipped", reason=store.NOT_DUE, counts={},
                               created_at=now))
            plan.skipped.append(sid)
            plan.reasons[sid] = store.NOT_DUE
            continue
        if cadence not in period:  # the week's data (and the month's, from it) loaded once; rows rendered once
            period[cadence] = WEEKS.get(session, catalog, week, timezone, now, cadence, weekday)
            previous[cadence] = store.counts_of(session, last_digest_week(cadence, week, weekday), todo)
        data, cache = period[cadence]
        d = compose(name, audience[sid], data, previous[cadence].get(sid), max_rows)
        counts = {k: d.counts.get(k, 0) for k in ("green", "amber", "red")}
        if d.empty and not empty_ok:
            ledger.append(dict(subscriber_id=sid, week=week, status="skipped", reason=store.EMPTY, counts=counts,
                               created_at=now))
            plan.skipped.append(sid)
            plan.reasons[sid] = store.EMPTY
            continue
        # the link's signed token is made when the email leaves (deliver fills LINK_MARK)
        subject, html, text = render_digest(d, base_url, LINK_MARK if base_url else "", cache=cache)
        deliveries.append(dict(key=f"digest-{week}.s{sid}.email", subscriber_id=sid, channel="digest",
                               return_id=None, subject=subject, body_html=html, body_text=text,
                               severity="red" if d.counts.get("red") else "amber" if d.counts.get("amber") else "green",
                               events=[], status="pending", attempts=0, next_attempt_at=now, created_at=now))
        ledger.append(dict(subscriber_id=sid, week=week, status="queued", reason=None, counts=counts,
                           created_at=now))
    try:
        plan.queued = store.record_plan(session, deliveries, ledger)
    except store.AlreadyPlanned:  # another run planned some of these at the same moment: keep theirs, plan the rest
        return plan_digests(session, catalog, week, timezone, now, todo, base_url, max_rows, weekday)
    return plan
