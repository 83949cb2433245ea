"""Plan a week's digests: exactly one per subscriber per ISO week.

Each digest is a ledger row (UNIQUE subscriber + week) and an outbox delivery, committed
together; the deliver task sends it like any notification (claim, send, record, retry). A
second run of the same week, a beat that fires twice, or a rerun after a crash mid-batch
finds the ledger rows and only plans the subscribers that are missing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from alerts.digest.compose import DigestModel, compose
from alerts.digest.data import WeekCache, load_week, parse_week
from alerts.digest.render import render_digest
from alerts.notify.pipeline import load_routes
from alerts.notify.route import Route
from alerts.notify.unsubscribe import LINK_MARK
from alerts.store.models import Delivery, Digest, Subscriber
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
    `subscriber_ids` when given)."""
    routes, recipients = load_routes(session, subscriber_ids)
    out: dict[int, list[Route]] = {}
    for r in routes:
        if r.delivery in ("digest", "both") and recipients[r.subscriber_id].email:
            out.setdefault(r.subscriber_id, []).append(r)
    return out


def previous_week(week: str) -> str:
    year, w = parse_week(week)
    monday = dt.date.fromisocalendar(year, w, 1) - dt.timedelta(days=7)
    y, pw, _ = monday.isocalendar()
    return f"{y}-W{pw:02d}"


def compose_for(session: Session, catalog: Catalog, timezone: str, week: str, subscriber_id: int,
                as_of: dt.datetime | None = None, max_rows: int = DEFAULT_MAX_ROWS) -> tuple[Subscriber, DigestModel]:
    who = session.get(Subscriber, subscriber_id)
    if who is None:
        raise LookupError(f"no subscriber with id {subscriber_id}")
    routes = digest_audience(session, [subscriber_id]).get(subscriber_id) or load_routes(session, [subscriber_id])[0]
    data = load_week(session, catalog, week, timezone, as_of)
    prev = session.execute(select(Digest.counts).where(Digest.subscriber_id == subscriber_id,
                                                       Digest.week == previous_week(week))).scalar_one_or_none()
    return who, compose(who.name, routes, data, json.loads(prev) if prev else None, max_rows)


def plan_digests(session: Session, catalog: Catalog, week: str, timezone: str, now: dt.datetime,
                 subscriber_ids: list[int] | None = None, base_url: str = "",
                 max_rows: int = DEFAULT_MAX_ROWS) -> DigestPlan:
    plan = DigestPlan(week)
    audience = digest_audience(session, subscriber_ids)
    wanted = sorted(audience if subscriber_ids is None else set(subscriber_ids) & set(audience))
    done = set(session.execute(select(Digest.subscriber_id).where(Digest.week == week,
                                                                  Digest.subscriber_id.in_(wanted))).scalars())  # type: ignore[attr-defined]
    plan.already = sorted(done)
    todo = [s for s in wanted if s not in done]
    if not todo:
        return plan
    data, cache = WEEKS.get(session, catalog, week, timezone, now)  # cache: rows rendered once per week's data
    previous = dict(session.execute(select(Digest.subscriber_id, Digest.counts).where(
        Digest.week == previous_week(week), Digest.subscriber_id.in_(todo))).all())  # type: ignore[attr-defined]
    names = dict(session.execute(select(Subscriber.id, Subscriber.name).where(Subscriber.id.in_(todo))).all())  # type: ignore[attr-defined]
    empty_ok = dict(session.execute(select(Subscriber.id, Subscriber.empty_digest)
                                    .where(Subscriber.id.in_(todo))).all())  # type: ignore[attr-defined]
    deliveries, ledger = [], []
    for sid in todo:
        d = compose(names[sid], audience[sid], data, json.loads(previous[sid]) if sid in previous else None,
                    max_rows)
        counts = json.dumps({k: d.counts.get(k, 0) for k in ("green", "amber", "red")})
        if d.steady and not empty_ok[sid]:
            ledger.append(dict(subscriber_id=sid, week=week, status="skipped", counts=counts, created_at=now))
            plan.skipped.append(sid)
            continue
        # the link's signed token is made when the email leaves (deliver fills LINK_MARK)
        subject, html, text = render_digest(d, base_url, LINK_MARK if base_url else "", cache=cache)
        deliveries.append(dict(key=f"digest-{week}.s{sid}.email", subscriber_id=sid, channel="digest",
                               return_id=None, subject=subject, body_html=html, body_text=text,
                               severity="red" if d.counts.get("red") else "amber" if d.counts.get("amber") else "green",
                               events="[]", status="pending", attempts=0, next_attempt_at=now, created_at=now))
        ledger.append(dict(subscriber_id=sid, week=week, status="queued", counts=counts, created_at=now))
    try:
        table = Delivery.__table__
        ids = list(session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                   deliveries).scalars()) if deliveries else []
        by_sub = dict(zip((d["subscriber_id"] for d in deliveries), ids, strict=True))
        for row in ledger:
            row["delivery_id"] = by_sub.get(row["subscriber_id"])
        session.execute(insert(Digest.__table__), ledger)
        session.commit()
    except IntegrityError:
        # Another run planned some of these at the same moment: keep theirs, plan the rest.
        session.rollback()
        return plan_digests(session, catalog, week, timezone, now, todo, base_url, max_rows)
    plan.queued = ids
    return plan
