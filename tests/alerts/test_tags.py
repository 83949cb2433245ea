"""Issue 10 section 3: the `contract` tag on every contract KPI, and who gets worker caseload rows."""

from __future__ import annotations

from alerts.notify.changes import build_change
from alerts.notify.group import group
from alerts.notify.render import render
from alerts.notify.route import Route, route
from rules.loader import SHIPPED_PACKS, load_catalog


def test_every_contract_kpi_of_both_suites_is_tagged_contract_and_nothing_else_is():
    catalog = load_catalog(SHIPPED_PACKS)
    suites = {b.suite for b in catalog.rules if b.code}
    assert suites == {"2018", "2024"}
    tagged = {b.id for b in catalog.rules if "contract" in b.rule.tags}
    assert tagged == {b.id for b in catalog.rules if b.code}
    assert len(tagged) == 30


def event(rule_id: str, subject: str, team: str | None = None, event_id: int = 1) -> dict:
    return dict(id=event_id, rule_id=rule_id, provider="sandwell", subject=subject, team=team, kind="opened",
                from_state=None, to_state="red", period="2025-03", value=30.0, return_id=4)


def test_a_contract_subscription_gets_the_kpi_and_everything_at_red_gets_no_worker_rows():
    catalog = load_catalog(SHIPPED_PACKS)
    changes = [build_change(catalog, event("single_assessments_45wd", "sandwell", event_id=1), [], None),
               build_change(catalog, event("worker_caseload", "sandwell/worker/W0042", "ai-1", 2), [], None),
               build_change(catalog, event("team_caseload", "sandwell/team/ai-1", "ai-1", 3), [], None),
               build_change(catalog, event("trust_average_caseload", "sandwell", None, 4), [], None)]
    routes = [Route(1, 1, tags=frozenset({"contract"})), Route(2, 2, min_severity="red"),
              Route(3, 3, tags=frozenset({"caseloads"}), teams=frozenset({"ai-1"}))]
    got = {(s, c.rule_id) for s, c in route(changes, routes)}
    assert got == {(1, "single_assessments_45wd"),
                   (2, "single_assessments_45wd"), (2, "team_caseload"), (2, "trust_average_caseload"),
                   (3, "worker_caseload"), (3, "team_caseload")}
    everything, = [g for g in group(route(changes, routes), {2: ["email"]})]
    msg = render(everything, "Commissioning lead")
    assert "W0042" not in msg.html and "W0042" not in msg.text and "ai-1" in msg.text
