"""Column types: instants are aware UTC in Python (UTCDateTime), lists and dicts are JSON
columns; rows written as text by earlier versions read back the same way (no migration)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import JSON, DateTime, insert, select, text
from sqlalchemy.exc import StatementError
from sqlmodel import Session, SQLModel

from alerts.store.db import get_engine
from alerts.store.models import Delivery, Digest, RatingRecord, ReturnRecord, Snooze, Subscriber, Subscription
from alerts.store.types import UTCDateTime

PLUS_TWO = dt.timezone(dt.timedelta(hours=2))


@pytest.fixture
def session(new_database):
    with Session(get_engine(new_database("types.db")), expire_on_commit=True) as s:
        yield s


def _return(session: Session, **fields: object) -> int:
    r = ReturnRecord(provider="p", kind="kpi", periods="2024-04", filename="f.csv", sha256="x", status="accepted",
                     rows=1, **fields)
    session.add(r)
    session.commit()
    return r.id  # type: ignore[return-value]


def test_a_datetime_read_back_is_aware_utc_and_equal_to_what_was_written(session: Session, backend: str) -> None:
    written = dt.datetime(2025, 3, 30, 2, 30, 15, 123456, tzinfo=PLUS_TWO)  # not UTC on purpose
    rid = _return(session, received_at=written)
    session.expunge_all()
    for read in (session.get(ReturnRecord, rid).received_at,  # type: ignore[union-attr]
                 session.execute(select(ReturnRecord.received_at)).scalar_one()):  # Core reads too
        assert read == written
        assert read.tzinfo is dt.UTC
        assert read == dt.datetime(2025, 3, 30, 0, 30, 15, 123456, tzinfo=dt.UTC)
    if backend == "sqlite":  # kept as UTC without an offset, the text earlier versions wrote: old files read the same
        assert session.execute(text("SELECT received_at FROM returns")).scalar_one() == "2025-03-30 00:30:15.123456"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # SQLite keeps text; PostgreSQL timestamptz
def test_a_row_written_without_an_offset_by_an_earlier_version_reads_back_as_utc(session: Session) -> None:
    session.execute(text("INSERT INTO returns (provider, kind, periods, filename, sha256, status, rows, received_at)"
                         " VALUES ('p', 'kpi', '2024-04', 'f.csv', 'y', 'accepted', 1, '2024-05-01 08:00:00.000000')"))
    read = session.execute(select(ReturnRecord.received_at)).scalar_one()
    assert read == dt.datetime(2024, 5, 1, 8, tzinfo=dt.UTC) and read.tzinfo is dt.UTC


def test_comparisons_bind_aware_instants(session: Session) -> None:
    _return(session, received_at=dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC))
    before = dt.datetime(2025, 1, 1, 13, 30, tzinfo=PLUS_TWO)  # 11:30 UTC: before the return
    assert session.execute(select(ReturnRecord.id).where(ReturnRecord.received_at < before)).first() is None
    assert session.execute(select(ReturnRecord.id).where(ReturnRecord.received_at > before)).first() is not None


def test_a_naive_datetime_is_refused_at_bind_time(session: Session) -> None:
    naive = dt.datetime(2025, 1, 1, 12)
    session.add(Snooze(rule_id="r", until=naive))
    with pytest.raises(StatementError, match="naive datetime") as caught:
        session.flush()
    assert isinstance(caught.value.orig, ValueError)
    session.rollback()
    with pytest.raises(StatementError, match="naive datetime"):  # Core statements too
        session.execute(insert(Snooze.__table__), [{"rule_id": "r", "until": naive}])  # type: ignore[attr-defined]
    session.rollback()
    with pytest.raises(StatementError, match="naive datetime"):  # and a comparison's parameter
        session.execute(select(Snooze.id).where(Snooze.until > naive)).all()
    assert UTCDateTime().process_bind_param(None, session.bind.dialect) is None  # type: ignore[union-attr]


def test_json_columns_round_trip_lists_and_dicts(session: Session, backend: str) -> None:
    who = Subscriber(name="someone", email="someone@example.org")
    session.add(who)
    session.flush()
    sub = Subscription(subscriber_id=who.id, indicators=["PI1", "pi2_x"], tags=["finance"], teams=["Team A"],
                       transitions=["opened", "resolved"])
    rid = _return(session)
    rating = RatingRecord(return_id=rid, rule_id="r", subject="p", provider="p", kind="kpi", period="2024-04",
                          value=71.5, rating="amber", rule_version="2024-04-01",
                          thresholds={"amber": "> 70 and < 85", "ceiling": 12.5, "green": ">= 85", "red": "<= 70"})
    delivery = Delivery(key="k", subscriber_id=who.id, channel="email", subject="s", body_html="h", body_text="t",
                        severity="red", events=[3, 1, 2])
    session.add_all([sub, rating, delivery])
    session.flush()
    session.add(Digest(subscriber_id=who.id, week="2025-W12", status="queued", delivery_id=delivery.id,
                       counts={"green": 3, "amber": 0, "red": 1}))
    session.commit()
    session.expunge_all()

    sub2 = session.execute(select(Subscription)).scalar_one()
    assert (sub2.indicators, sub2.tags, sub2.providers, sub2.teams, sub2.transitions) == (
        ["PI1", "pi2_x"], ["finance"], [], ["Team A"], ["opened", "resolved"])
    assert session.execute(select(RatingRecord.thresholds)).scalar_one() == {
        "amber": "> 70 and < 85", "ceiling": 12.5, "green": ">= 85", "red": "<= 70"}
    assert session.execute(select(Delivery.events)).scalar_one() == [3, 1, 2]  # order kept
    assert session.execute(select(Digest.counts)).scalar_one() == {"green": 3, "amber": 0, "red": 1}
    if backend == "sqlite":  # stored as the JSON text earlier versions wrote (so their files read the same)
        assert session.execute(text("SELECT events FROM deliveries")).scalar_one() == "[3, 1, 2]"
        assert session.execute(text("SELECT providers FROM subscriptions")).scalar_one() == "[]"
    else:  # json columns, kept as written (order too)
        assert session.execute(text("SELECT events::text FROM deliveries")).scalar_one() == "[3, 1, 2]"


def test_every_instant_is_utc_datetime_and_no_json_is_kept_in_text() -> None:
    """A new datetime column without sa_type=UTCDateTime, or JSON put back in a text column,
    fails here."""
    columns = [(t.name, c) for t in SQLModel.metadata.sorted_tables for c in t.columns]
    instants = {(t, c.name) for t, c in columns if type(c.type) is UTCDateTime}  # ours, not sqlmodel's default
    dated = {(t, c.name) for t, c in columns if isinstance(getattr(c.type, "impl", c.type), DateTime)}
    # (api_tokens added created_at, last_used_at and revoked_at; returns.published_at)
    # (0004: users, signin_requests and web_sessions add 7; 0005: four on returns, one on subscribers;
    # 0006: heartbeats.at, signin_requests.mailed_at)
    assert dated == instants and ("deliveries", "next_attempt_at") in instants and len(instants) == 34
    for table, column in [("subscriptions", "indicators"), ("subscriptions", "tags"), ("subscriptions", "providers"),
                          ("subscriptions", "teams"), ("subscriptions", "transitions"), ("ratings", "thresholds"),
                          ("deliveries", "events"), ("digests", "counts"), ("returns", "queries")]:
        kept = SQLModel.metadata.tables[table].c[column].type
        assert isinstance(getattr(kept, "impl", kept), JSON), (table, column)  # RepeatedJSON is JSON too


def test_repeated_json_serializes_by_content_and_hands_each_row_its_own_dict(session: Session) -> None:
    """The cheap path for ratings' thresholds: a dict changed in place is stored as it is now,
    and changing one row's dict read back does not change another's."""
    rid = _return(session)
    bands = {"amber": "> 70 and < 85", "green": ">= 85", "red": "<= 70"}
    rows = [dict(return_id=rid, rule_id="r", subject=f"s{i}", provider="p", kind="kpi", period="2024-04", value=1.0,
                 rating="green", rule_version="v", thresholds=bands, evaluated_at=dt.datetime.now(dt.UTC))
            for i in range(3)]
    session.execute(insert(RatingRecord.__table__), rows[:2])  # type: ignore[attr-defined]
    bands["ceiling"] = 12.5  # the same object, changed: its new content is what is stored
    session.execute(insert(RatingRecord.__table__), rows[2:])  # type: ignore[attr-defined]
    session.commit()
    read = session.execute(select(RatingRecord.thresholds).order_by(RatingRecord.id)).scalars().all()
    assert [("ceiling" in r) for r in read] == [False, False, True]
    read[0]["green"] = "changed"
    assert read[1]["green"] == ">= 85"
    again = session.execute(select(RatingRecord.thresholds).order_by(RatingRecord.id)).scalars().first()
    assert again is not None and again["green"] == ">= 85"
