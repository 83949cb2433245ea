"""POST /api/returns in-process: the status codes and shapes of every outcome."""

from __future__ import annotations

import io
import json

import openpyxl
from sqlalchemy import func, select

from alerts.store.db import session_for
from alerts.store.models import ApiToken, Observation, ReturnRecord
from tests.api.web_helpers import person
from tests.conftest import EXAMPLES, kpi_csv

BREACH = kpi_csv([("2024-10", "PI1", "60.1"), ("2024-10", "PI2", "95")])  # PI1 red, PI2 green


def stored(settings) -> list[ReturnRecord]:
    with session_for(settings.database_url) as s:
        return list(s.execute(select(ReturnRecord).order_by(ReturnRecord.id)).scalars())


def observations(settings) -> int:
    with session_for(settings.database_url) as s:
        return s.execute(select(func.count()).select_from(Observation)).scalar_one()


def test_a_stored_return_is_201_with_the_object_ingest_json_prints(api, cli):
    path = EXAMPLES / "kpi-2024-10.csv"
    res = api.upload(path.name, path.read_bytes())
    assert res.status_code == 201, res.text
    body = res.json()
    printed = cli("ingest", "--json", str(path))  # the command line, on a database of its own
    assert printed.returncode == 0, printed.stderr
    assert body == json.loads(printed.stdout)
    assert list(body) == ["return", "evaluations", "transitions", "not_reported"]
    assert (body["return"]["status"], body["return"]["evaluation"]) == ("accepted", "done")
    assert len(body["evaluations"]) == 15 and body["transitions"]


def test_a_byte_identical_duplicate_is_200_and_changes_nothing(api):
    first = api.upload("kpi.csv", BREACH)
    again = api.upload("renamed.csv", BREACH)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {"return": {**first.json()["return"], "status": "duplicate"}, "evaluations": [],
                            "transitions": [], "not_reported": []}
    assert len(stored(api.settings)) == 1


def test_a_restatement_is_201_restated(api):
    assert api.upload("kpi.csv", BREACH).status_code == 201
    res = api.upload("kpi-corrected.csv", kpi_csv([("2024-10", "PI1", "90"), ("2024-10", "PI2", "95")]))
    assert res.status_code == 201
    body = res.json()
    assert body["return"]["status"] == "restated"
    assert {"rule": "single_assessments_45wd", "subject": "sandwell", "from": "red", "to": "green",
            "kind": "resolved", "period": "2024-10"} in body["transitions"]


def test_a_rejected_return_is_422_with_every_problem_and_nothing_is_stored(api):
    bad = b"provider,period,indicator,value\nsandwell,2024-10,PI1,abc\nsandwell,2024-10,PI99,1\n"
    res = api.upload("C:\\Users\\perf\\kpi-2024-10.csv", bad)  # a browser on Windows sends the path
    assert res.status_code == 422
    errors = res.json()["errors"]
    assert list(res.json()) == ["errors"]
    assert errors[0] == "kpi-2024-10.csv:2:value: expected a number, got 'abc'"
    assert errors[1].startswith("kpi-2024-10.csv:3:indicator: unknown indicator 'PI99' for period 2024-10")
    assert stored(api.settings) == [] and observations(api.settings) == 0


def test_every_upload_records_the_token_that_landed_it(api, make_settings, cli):
    from tests.api.conftest import new_token

    second = new_token(api.settings, "walsall-performance")
    assert api.upload("kpi.csv", BREACH).status_code == 201
    assert api.upload("fin.csv", (EXAMPLES / "finance-2026-01.csv").read_bytes(), token=second).status_code == 201
    with session_for(api.settings.database_url) as s:
        names = dict(s.execute(select(ApiToken.id, ApiToken.name)).all())
    assert [(r.filename, names[r.token_id]) for r in stored(api.settings)] == [
        ("kpi.csv", "test-1"), ("fin.csv", "walsall-performance")]
    # the command line records none
    assert cli("ingest", str(EXAMPLES / "kpi-2024-11.csv"), database_url=api.settings.database_url).returncode == 0
    assert stored(api.settings)[-1].token_id is None


def test_without_a_valid_token_it_is_401_with_www_authenticate_and_nothing_is_read(api):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": f"Bearer {api.token}x"}, {"Authorization": "Bearer "}):
        res = api.client.post("/api/returns", files={"file": ("kpi.csv", BREACH)}, headers=headers)
        assert res.status_code == 401, headers
        assert res.headers["WWW-Authenticate"].startswith("Bearer")
        assert api.token not in res.text
    assert stored(api.settings) == []


def test_an_upload_over_the_limit_is_413_whether_its_length_is_declared_or_not(make_api):
    api = make_api(max_upload_mb=0.01)  # 10,485 bytes
    big = kpi_csv([("2024-10", "PI1", "60")] * 1) + b"#" * 20_000
    res = api.upload("kpi.csv", big)  # Content-Length over the form's limit
    assert res.status_code == 413
    assert "KPI_ALERTS_MAX_UPLOAD_MB" in res.json()["detail"]

    def chunks():  # no Content-Length: chunked, counted as it arrives
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"kpi.csv\"\r\n\r\n"
        for _ in range(100):
            yield b"x" * 1024

    res = api.client.post("/api/returns", content=chunks(), headers={**api.auth,
                          "Content-Type": "multipart/form-data; boundary=b"})
    assert res.status_code == 413
    # a file just over the limit inside a small envelope: the file itself is measured
    res = api.upload("kpi.csv", b"x" * (10_485 + 1 + 100))
    assert res.status_code == 413
    assert api.upload("kpi.csv", BREACH).status_code == 201  # within it
    assert len(stored(api.settings)) == 1


def xlsx(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_file_that_is_none_of_csv_xlsx_json_is_415_naming_the_accepted_types(api):
    workbook = xlsx([["provider", "period", "indicator", "value"], ["sandwell", "2024-10", "PI1", 60.1]])
    cases = [("kpi.pdf", b"%PDF-1.7 ..."), ("kpi", BREACH), ("kpi.txt", BREACH), ("kpi.xls", b"\xd0\xcf\x11\xe0"),
             ("kpi.xlsx", BREACH), ("kpi.csv", workbook), ("kpi.csv", b"%PDF-1.7"), ("kpi.json", b"provider,period"),
             ("kpi.json", b"\x89PNG\r\n")]
    for name, data in cases:
        res = api.upload(name, data)
        assert res.status_code == 415, (name, res.text)
        assert "expected CSV (.csv, UTF-8), XLSX (.xlsx, an Excel workbook) or JSON (.json)" in res.json()["detail"]
    # not a form at all
    res = api.client.post("/api/returns", content=BREACH, headers={**api.auth, "Content-Type": "text/csv"})
    assert res.status_code == 415 and "multipart/form-data" in res.json()["detail"]
    assert stored(api.settings) == []
    # each accepted type lands (the extension's case as written)
    json_return = json.dumps([{"provider": "sandwell", "period": "2024-11", "indicator": "PI1", "value": 70.5}])
    assert api.upload("kpi.XLSX", workbook).status_code == 201
    assert api.upload("kpi-2024-11.json", json_return.encode()).status_code == 201
    assert api.upload("kpi-2024-12.csv", kpi_csv([("2024-12", "PI1", "71")])).status_code == 201


def test_a_request_that_is_not_a_form_with_a_file_is_400(api):
    res = api.client.post("/api/returns", data={"other": "x"}, files={"notfile": ("kpi.csv", BREACH)},
                          headers=api.auth)
    assert res.status_code == 400 and "'file'" in res.json()["detail"]
    res = api.client.post("/api/returns?wait=soon", files={"file": ("kpi.csv", BREACH)}, headers=api.auth)
    assert res.status_code == 400 and "wait" in res.json()["detail"]
    res = api.client.post("/api/returns?wait=9999", files={"file": ("kpi.csv", BREACH)}, headers=api.auth)
    assert res.status_code == 400
    assert stored(api.settings) == []


def test_wait_in_process_is_evaluated_before_the_answer_anyway(api):
    res = api.upload("kpi.csv", BREACH, wait=5)
    assert res.status_code == 201
    assert res.json()["return"]["evaluation"] == "done"
    assert {e["rule"]: e["rating"] for e in res.json()["evaluations"]}["single_assessments_45wd"] == "red"


def test_the_openapi_document_describes_the_upload(api):
    reader = person(api, "performance@example.org", "performance")
    doc = reader.get("/openapi.json").json()
    upload = doc["paths"]["/api/returns"]["post"]
    assert set(upload["responses"]) >= {"200", "201", "401", "413", "415", "422"}
    assert "file" in upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert reader.get("/docs").status_code == 200
