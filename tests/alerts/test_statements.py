"""Cost that does not grow: a return's database statements do not grow with its alert events,
and a long run that began before the window read on landing still gives the full answer."""

from __future__ import annotations

from sqlalchemy import event, select

from alerts.store.db import get_engine, session_for
from alerts.store.models import Alert, Delivery
from alerts.usecases.subscriptions import SubscriptionSpec, subscribe
from rules.loader import load_catalog
from tests.conftest import kpi_csv
from tests.ingesting import ingest_bytes, land_json


def caseload(period: str, workers: int, value: int) -> bytes:
    lines = ["provider,period,team,service,worker,asye,caseload"] + [
        f"sandwell,{period},ai-{i % 10},assessment_intervention,SW-{i},false,{value}" for i in range(workers)]
    return ("\n".join(lines) + "\n").encode()


def statements_for(settings, workers: int) -> tuple[int, int]:
    """Statements to land a first caseload return (every worker a new alert) and a second one
    that opens every worker's alert, and the transitions the second made."""
    engine = get_engine(settings.database_url)
    seen: list[str] = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        first = ingest_bytes(f"c-{workers}-1.csv", caseload("2025-03", workers, 15))  # all green
        created = len(seen)
        seen.clear()
        second = land_json(f"c-{workers}-2.csv", caseload("2025-04", workers, 30))  # all red: opened
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert first.landed and first.landed.status == "accepted"
    assert sum(t["kind"] == "opened" for t in second["transitions"]) >= workers
    return created, len(seen)


def test_statement_count_does_not_grow_with_alert_events(new_database):
    from config import Settings, use_settings
    from rules.loader import SHIPPED_PACKS

    counts = []
    for workers in (100, 1000):
        s = Settings(database_url=new_database(f'w{workers}.db'), broker_url="",
                     rules_dir=SHIPPED_PACKS)
        use_settings(s)
        try:
            counts.append(statements_for(s, workers))
        finally:
            use_settings(None)
    assert counts[0] == counts[1], counts


def test_a_run_older_than_the_window_is_read_in_full(settings):
    """PI1 red for 20 months, then a restatement of the latest month to amber and back: the
    alert's `since` and the message's months outside green count the whole run."""
    with session_for(settings.database_url) as s:
        subscribe(s, load_catalog(settings.rules_dir), "Performance", "perf@example.org", None, SubscriptionSpec())
    months = [f"{2024 + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}" for m in range(4, 24)]  # 2024-04 .. 2025-11
    assert land_json("run.csv", kpi_csv([(p, "PI1", "60") for p in months]))["transitions"][0]["kind"] == "opened"
    land_json("nov-a.csv", kpi_csv([("2025-11", "PI1", "75")]))  # deescalated: since 2025-11
    back = land_json("nov-r.csv", kpi_csv([("2025-11", "PI1", "61")]))  # the window starts 2024-11
    assert [(t["kind"], t["to"]) for t in back["transitions"]] == [("escalated", "red")]
    with session_for(settings.database_url) as s:
        alert = s.execute(select(Alert).where(Alert.rule_id == "single_assessments_45wd")).scalar_one()
        html = s.execute(select(Delivery.body_html).order_by(Delivery.id.desc())).scalars().first()
    assert (alert.state, alert.since_period) == ("red", "2024-04")
    assert "20 months (since 2024-04)" in html
    assert "(red, 2025-10)" in html  # the previous rated period
