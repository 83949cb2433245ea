"""Stage 1, route: which subscriptions want which changes. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.notify.changes import SEVERITY, Change
from alerts.notify.inputs import Inputs

# `corrected`: a restatement changed a rating an earlier message announced, and no alert moved
ALL_TRANSITIONS = frozenset({"opened", "escalated", "deescalated", "resolved", "reminder", "corrected"})
CASELOADS = "caseloads"  # the tag a subscription names to take per-worker caseload rows


def transition_severity(item: Change) -> int:
    """A transition counts at the severity it leaves or enters, whichever is higher: a red alert
    de-escalating to amber is a red matter (a subscriber at red hears it), as is one resolving."""
    return max(SEVERITY.get(item.from_state or "green", 0), SEVERITY.get(item.to_state or "green", 0))


def is_worker_row(item: Change) -> bool:
    """A per-worker row (subject `provider/worker/NAME`, see rules.evaluate.subject_for)."""
    return item.subject.startswith(f"{item.provider}/worker/")


@dataclass(frozen=True)
class Route:
    """A subscription as the router sees it. Empty filters match everything."""

    subscription_id: int
    subscriber_id: int
    indicators: frozenset[str] = frozenset()  # keys, rule ids or contract codes (upper-case)
    tags: frozenset[str] = frozenset()
    providers: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    transitions: frozenset[str] = frozenset()
    min_severity: str = "amber"
    delivery: str = "immediate"

    def covers(self, item: Change) -> bool:
        """Scope only (indicators, tags, providers, teams): also decides a digest's rows.
        Per-worker caseload rows only reach a subscription that names a team or the `caseloads`
        tag, never one that takes everything (thousands of workers in a national fan-out)."""
        if is_worker_row(item) and not (self.teams or CASELOADS in self.tags):
            return False
        if self.indicators and not ({item.rule_id, item.indicator, (item.code or "").upper()} & self.indicators):
            return False
        if self.tags and not (self.tags & set(item.tags)):
            return False
        if self.providers and item.provider not in self.providers:
            return False
        return not self.teams or item.team in self.teams

    def takes(self, delivery: str) -> bool:
        """Delivered `delivery` (immediate or digest); 'both' takes either."""
        return self.delivery in (delivery, "both")

    def wants(self, change: Change, delivery: str = "immediate") -> bool:
        if not self.takes(delivery):
            return False
        if change.kind not in (self.transitions or ALL_TRANSITIONS):
            return False
        if transition_severity(change) < SEVERITY[self.min_severity]:
            return False
        return self.covers(change)


def route(changes: list[Change], routes: list[Route], delivery: str = "immediate") -> list[tuple[int, Change]]:
    """(subscriber id, change) pairs, each pair once even when several subscriptions match."""
    # Most subscriptions name providers: index them so a change is only tested against
    # the subscriptions that could want it (national fan-out: 2,000 x 2,295 otherwise).
    anywhere = [r for r in routes if not r.providers]
    by_provider: dict[str, list[Route]] = {}
    for r in routes:
        for p in r.providers:
            by_provider.setdefault(p, []).append(r)
    out: dict[tuple[int, int], tuple[int, Change]] = {}
    for change in changes:
        for r in (*by_provider.get(change.provider, ()), *anywhere):
            if (r.subscriber_id, change.event_id) not in out and r.wants(change, delivery):
                out[(r.subscriber_id, change.event_id)] = (r.subscriber_id, change)
    return sorted(out.values(), key=lambda sc: (sc[1].event_id, sc[0]))


def route_stage(changes: list[Change], inputs: Inputs) -> list[tuple[int, Change]]:
    """The pipeline's stage 1: route over the loaded subscriptions."""
    return route(changes, inputs.routes, inputs.delivery)
