"""The intake (alerts/usecases/intake.py): one object per process lands a return through the real
store and answers one tagged result, one of five kinds (every door giving the same status for the
same file: tests/api/test_intake_doors.py). SQLite only: no dialect branch here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alerts import steps
from alerts.events import EvaluationOutcome
from alerts.store.db import session_for
from alerts.store.models import ReturnRecord
from alerts.store.schema import upgrade_url
from alerts.usecases.holds import NotHeld
from alerts.usecases.intake import Duplicate, Held, Intake, LandedEvaluated, LandedPending, Rejected
from alerts.usecases.intake_json import intake_json
from tests.conftest import EXAMPLES, kpi_csv

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

BREACH = kpi_csv([("2024-10", "PI1", "60.1"), ("2024-10", "PI2", "95")])  # PI1 red, PI2 green
BAD = kpi_csv([("2024-10", "PI1", "abc")])
MARCH = (EXAMPLES / "kpi-2025-03.csv").read_bytes()
TYPO = MARCH.replace(b"2025-03", b"2025-04").replace(b",86.4", b",18.6")  # PI1 typed 18.6 for 86.4
RIGHT = MARCH.replace(b"2025-03", b"2025-04").replace(b",86.4", b",85.1")  # the corrected file
AT = dt.datetime(2025, 1, 6, 9, 30, tzinfo=dt.UTC)


def stored(settings) -> list[ReturnRecord]:  # noqa: ANN001
    with session_for(settings.database_url) as s:
        return list(s.execute(select(ReturnRecord).order_by(ReturnRecord.id)).scalars())


def count(settings) -> int:  # noqa: ANN001
    with session_for(settings.database_url) as s:
        return s.execute(select(func.count()).select_from(ReturnRecord)).scalar_one()


@pytest.fixture
def intake(settings) -> Intake:  # noqa: ANN001
    return Intake(settings, steps.InProcess(settings).evaluate, clock=lambda: AT)


@SQLITE
def test_a_rejected_file_stores_nothing_and_lists_every_problem(intake, settings):
    result = intake.land("bad.csv", BAD)
    assert isinstance(result, Rejected) and result.status == "rejected"
    assert result.errors and all(line.startswith("bad.csv:") for line in result.errors)
    assert result.kind == "kpi"
    assert count(settings) == 0
    assert intake_json(intake.catalog, result)["return"] == {"file": "bad.csv", "status": "rejected"}


@SQLITE
def test_a_good_file_is_landed_and_evaluated_at_the_intakes_clock(intake, settings):
    result = intake.land("kpi.csv", BREACH)
    assert isinstance(result, LandedEvaluated) and result.status == "accepted" and not result.resumed
    assert {(r.rule_id, r.rating) for r in result.outcome.ratings} >= {("single_assessments_45wd", "red")}
    [rec] = stored(settings)
    assert (rec.id, rec.received_at) == (result.landed.return_id, AT)  # the clock it was given
    assert intake_json(intake.catalog, result)["return"]["evaluation"] == "done"


@SQLITE
def test_the_same_bytes_again_are_a_duplicate_and_change_nothing(intake, settings):
    first = intake.land("kpi.csv", BREACH)
    again = intake.land("renamed.csv", BREACH)
    assert isinstance(again, Duplicate) and again.status == "duplicate" and again.evaluated
    assert again.landed.return_id == first.landed.return_id and count(settings) == 1
    body = intake_json(intake.catalog, again)
    assert (body["evaluations"], body["transitions"]) == ([], [])


@SQLITE
def test_a_failed_evaluation_is_landed_pending_and_the_same_bytes_again_evaluate_it(settings):
    def falls_over(return_id: int, claimed: bool = False) -> EvaluationOutcome:
        raise RuntimeError("the evaluation fell over\nsecond line never shown")

    result = Intake(settings, falls_over).land("kpi.csv", BREACH)
    assert isinstance(result, LandedPending) and result.status == "accepted"
    assert (result.reason, result.detail) == ("failed", "RuntimeError: the evaluation fell over")
    assert intake_json(Intake(settings, falls_over).catalog, result)["return"]["evaluation_error"] == result.detail
    again = Intake(settings, steps.InProcess(settings).evaluate).land("kpi.csv", BREACH)
    assert isinstance(again, LandedEvaluated) and again.resumed


@SQLITE
def test_a_deferred_or_queued_evaluation_is_landed_pending(make_settings):
    settings = make_settings(broker_url="redis://127.0.0.1:1/0")
    upgrade_url(settings.database_url)  # as `kpi-alerts db upgrade` does before broker mode runs

    def unreachable(name: str, args: tuple = (), **_: object) -> None:
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:1")

    deferred = Intake(settings, steps.ToWorkers(settings, unreachable).evaluate).land("kpi.csv", BREACH)
    assert isinstance(deferred, LandedPending) and deferred.reason == "deferred"
    assert "ConnectionRefusedError" in deferred.detail
    sent: list[str] = []
    queued = Intake(settings, steps.ToWorkers(settings, lambda name, **_: sent.append(name)).evaluate).land(
        "k2.csv", kpi_csv([("2024-11", "PI1", "90")]), wait=0.0)
    assert isinstance(queued, LandedPending) and (queued.reason, queued.detail) == ("queued", "")
    assert sent == [steps.EVALUATE]  # no worker runs here: nothing finished it within the wait
    assert intake_json(Intake(settings, lambda *_a, **_k: None).catalog, queued)["return"]["evaluation"] == "pending"


@pytest.fixture
def year(make_settings, landed_year):  # noqa: ANN001, ANN201
    """The example year landed: a return far outside it has queries."""
    return make_settings(database_url=landed_year)


@SQLITE
def test_a_file_with_queries_is_held_and_confirming_it_evaluates_it(year):
    intake = Intake(year, steps.InProcess(year).evaluate)
    held = intake.land("kpi-2025-04.csv", TYPO, told=True)
    assert isinstance(held, Held) and held.status == "held"
    assert [q.split(": query: ")[0] for q in held.queries] == ["kpi-2025-04.csv:2:value"]
    assert intake_json(intake.catalog, held)["status"] == "held"
    assert isinstance(intake.land("again.csv", TYPO), Held)  # the same bytes: still held
    done = intake.confirm(held.landed.return_id, "Jo", "checked with the trust")
    assert isinstance(done, LandedEvaluated) and done.queries == held.queries and done.outcome.ratings
    with pytest.raises(NotHeld):
        intake.confirm(held.landed.return_id, "Jo")


def test_the_http_doors_import_nothing_from_the_command_line():
    """The landing's JSON shapes live beside the intake, not in alerts/cli: the HTTP doors
    (alerts/api, alerts/web, or alerts/http once merged) never import the command line."""
    import ast

    root = Path(__file__).resolve().parent.parent / "alerts"
    found = []
    for package in ("api", "web", "http", "usecases"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                         else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                found += [f"{path.relative_to(root)}: {n}" for n in names if n == "alerts.cli" or
                          n.startswith("alerts.cli.")]
    assert found == []
