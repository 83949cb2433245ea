"""What an alert message says, worded once for every channel: the subject, the first line and
each change's facts (label, value), which the email's HTML, its plain-text part and the Teams
card all show. Pure.

A restatement (a return replacing an earlier one for the same provider, kind and period) says
so in the subject and the first line, and names every rating it withdraws. A finance rule rated
as a percentage of its funding (`amount` in the pack) leads with the money in pounds; caseload
messages count workers and teams, and a worker's row names its team.

The words are the trust's, from rules/vocabulary.py: on target, within tolerance, in failure
beside green, amber, red; "breach" is never said. A subject is at most MAX_SUBJECT characters,
the most important first (`fit`).

`esc` is applied to every name (provider, team and worker names from returns; indicator,
measure and comparator names from the packs), never to the numbers and words formatted here:
the identity by default (Jinja autoescapes the HTML; a Teams card shows names in TextRuns, which
are never markdown).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alerts.notify.changes import Change
from alerts.templating import band_text, day, fmt_value, indicator_url, pounds, share
from rules import vocabulary
from rules.bands import band_words, bands_from_described
from rules.vocabulary import provider_name

Escape = Callable[[str], str]

MAX_SUBJECT = 78  # characters: what a phone's mail list and a Teams notification show of a title
_CASELOADS = {"opened": "over the ceiling", "escalated": "over the ceiling", "deescalated": "improved",
              "resolved": "back within the ceiling", "reminder": "still over the ceiling", "corrected": "corrected"}
NOT_CONFIRMED = "not confirmed by the sender"  # a return released when its hold hours passed
MAX_WITHDRAWN_NAMED = 5  # in the first line; every one is named in its own change's facts


def _same(text: str) -> str:
    return text


def standing(c: Change) -> str:
    """The state a message shows for a change: the new state, or for a correction that moved no
    alert, the alert's state (a withdrawn RED under an alert that stays AMBER is an AMBER matter)."""
    return c.alert_state if c.kind == "corrected" and c.alert_state else c.to_state


def worst(changes: Sequence[Change]) -> str:
    return vocabulary.worst([standing(c) for c in changes]) or "green"


def phrase(c: Change) -> str:
    """What the change says of its indicator (rules/vocabulary.py): 'in failure', 'within
    tolerance', 'now within tolerance', 'back on target', 'still in failure', 'corrected'."""
    return vocabulary.change(c.kind, c.to_state)


def fit(head: str, clauses: Sequence[tuple[str, int]], tails: Sequence[str] = ("",), limit: int = MAX_SUBJECT) -> str:
    """`head` and as many of `clauses` ((text, how many changes it counts), most important
    first) as fit in `limit` characters, with the first of `tails` that fits (the longest
    first); the clauses left out are counted ('3 more'). A head too long for even one clause is
    cut, ending in an ellipsis. Nothing said is dropped silently, and nothing false is said."""
    for shown in range(len(clauses), 0, -1):
        rest = sum(n for _, n in clauses[shown:])
        body = ", ".join([t for t, _ in clauses[:shown]] + ([f"{rest} more"] if rest else []))
        for tail in tails:
            if len(head) + len(body) + len(tail) <= limit:
                return head + body + tail
    text = head + (clauses[0][0] if clauses else "") + (tails[-1] if tails else "")
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "\u2026"


def _lower(name: str) -> str:
    return name[:1].lower() + name[1:]


def _and(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


_OVERDUE = {"opened": "missing", "escalated": "missing", "deescalated": "still missing", "resolved": "received",
            "reminder": "still missing", "corrected": "missing"}


def is_overdue(c: Change) -> bool:
    """An alert of the expected-returns calendar (`return_overdue_<kind>`): a missing return."""
    return c.overdue_kind is not None


def overdue_phrase(c: Change) -> str:
    """'KPI return for 2025-03 missing', '... (3 missing since 2025-01)', '... received'."""
    kind = {"kpi": "KPI", "finance": "finance", "caseload": "caseload"}.get(c.overdue_kind or "", "")
    text = f"{kind} return for {c.period} {_OVERDUE.get(c.kind, c.kind)}"
    many = c.kind != "resolved" and c.value > 1 and c.missing_since and c.missing_since != c.period
    return f"{text} ({int(c.value)} missing since {c.missing_since})" if many else text


def overdue_value(c: Change) -> str:
    if c.kind == "resolved":
        return "none missing"
    n = int(c.value)
    since = c.missing_since or c.period
    return f"{_count(n, 'return')} missing" + (f" ({since} to {c.period})" if since != c.period else f" ({c.period})")


def overdue_due(c: Change) -> str | None:
    """'Thu 15 May 2025; missing after Tue 20 May 2025'."""
    if c.due is None:
        return None
    grace = f"; missing after {day(c.missing_after)}" if c.missing_after and c.missing_after != c.due else ""
    return f"{day(c.due)}{grace}"


def is_finance(c: Change) -> bool:
    """A rule rated as a percentage of an amount in pounds (the finance pack's overspends)."""
    return c.share_of is not None


def worker_id(c: Change) -> str | None:
    marker = f"{c.provider}/worker/"
    return c.subject[len(marker):] if c.subject.startswith(marker) else None


def team_id(c: Change) -> str | None:
    marker = f"{c.provider}/team/"
    return c.subject[len(marker):] if c.subject.startswith(marker) else c.team


def who(c: Change, esc: Escape = _same) -> str:
    """The change's subject in words: 'Sandwell', 'Team ai-1', 'Worker SW-0003, team ai-1'."""
    worker = worker_id(c)
    if worker is not None:
        return f"Worker {esc(worker)}" + (f", team {esc(c.team)}" if c.team else "")
    if c.subject.startswith(f"{c.provider}/team/"):
        return f"Team {esc(team_id(c) or '')}"
    return esc(provider_name(c.provider))


def ref(c: Change, esc: Escape = _same) -> str:
    """How a sentence names the change: its code (PI3), else its name, plus whose it is for a
    team or worker row."""
    name = c.code or esc(c.name)
    return name if c.subject == c.provider else f"{name} for {who(c, esc)}"


def title(c: Change, esc: Escape = _same) -> str:
    return f"{c.code} {esc(c.name)}" if c.code else esc(c.name)


def value_short(c: Change, value: float | None) -> str:
    """A value of this change's rule as a number with its unit: 68.8%, 9.7%, 27, £96,720,000."""
    if value is None:
        return "-"
    return share(value) if is_finance(c) else fmt_value(value, c.unit)


def finance_phrase(c: Change, short: bool = False, esc: Escape = _same) -> str:
    """'forecast overspend £10.19m, 9.7% of funding (...)' (short: 'forecast overspend £10.19m
    (9.7%)'); without the period's amounts, 'forecast overspend 9.7% of funding (...)' (short:
    'forecast overspend 9.7%')."""
    name, amount = c.amount or (c.name, None)
    name, of = esc(_lower(name)), esc(_lower(c.share_of or ""))
    if amount is None:
        return f"{name} {share(c.value)}" if short else f"{name} {share(c.value)} of {of}"
    if short:
        return f"{name} {pounds(amount)} ({share(c.value)})"
    return f"{name} {pounds(amount)}, {share(c.value)} of {of}"


def value_text(c: Change, esc: Escape = _same) -> str:
    """The change's value as a message states it: a finance rule's amount in pounds and what it
    is a share of; a caseload against its ceiling; otherwise the number and its unit."""
    if is_finance(c):
        return finance_phrase(c, esc=esc)
    ceiling = c.thresholds.get("ceiling")
    if ceiling is not None:
        return f"{fmt_value(c.value, c.unit)} (ceiling {fmt_value(float(ceiling), c.unit)})"
    return fmt_value(c.value, c.unit)


def what_text(c: Change) -> str:
    """'in failure (was within tolerance)', 'back on target (was in failure)', 'still in
    failure' (a reminder says no 'was': it stood there before too), 'corrected (was reported in
    failure)'; a missing return: 'missing', 'received'."""
    if is_overdue(c):
        return _OVERDUE.get(c.kind, c.kind)
    if c.kind == "corrected":
        return f"corrected (was reported {vocabulary.status(c.from_state)})" if c.from_state else "corrected"
    return phrase(c) + ("" if c.kind == "reminder" else vocabulary.was(c.from_state))


def rating_text(c: Change) -> str:
    """'RED, in failure (was within tolerance)': the colour beside the trust's words."""
    return f"{c.to_state.upper()}, {what_text(c)}"


def band_lines(c: Change) -> list[tuple[str, str]]:
    """(band, its values) as the contract states them, the indicator page's words
    (rules.bands): ('Target', '85% or more'), ('Within tolerance', 'above 70% and below 85%');
    a finance rule's edges are percentages of its funding. Bands this cannot read are shown
    as stored."""
    bands = bands_from_described(c.thresholds)
    if bands is None:
        return [(band, band_text(c.thresholds[band])) for band in vocabulary.RATINGS if c.thresholds.get(band)]
    unit = "percent" if is_finance(c) else c.unit
    return [(vocabulary.BAND[name], band_words(getattr(bands, name), unit))
            for name in vocabulary.RATINGS if getattr(bands, name)]


def bands_text(c: Change) -> str:
    """'Target: 85% or more. Within tolerance: above 70% and below 85%. Failure: 70% or less.'"""
    return " ".join(f"{band}: {text}." for band, text in band_lines(c))


def previously_text(c: Change) -> str | None:
    if not c.previous_period:
        return None
    return f"{value_short(c, c.previous_value)} ({c.previous_rating}, {c.previous_period})"


def outside_green_text(c: Change) -> str | None:
    if not c.months_outside_green:
        return None
    return f"{_count(c.months_outside_green, 'month')} (since {c.outside_green_since})"


def comparators_text(c: Change, esc: Escape = _same) -> str | None:
    if not c.comparators:
        return None
    named = vocabulary.comparator_name
    return "; ".join(f"{esc(named(name))} {value_short(c, value)}" + (f" ({as_of})" if as_of else "")
                     for name, value, as_of in c.comparators)


def _on(when: dt.date) -> str:
    return f"{when.day} {when:%b}"


def next_return_text(c: Change) -> str | None:
    """When the next return of the alert's kind is due, by the expected-returns calendar: 'the
    next return is due 15 Nov'; once its due day has passed without it, 'the 2024-11 return was
    due 15 Dec and has not landed yet', and after its grace 'the 2024-11 return is missing (due
    15 Dec)'."""
    if c.next_due is None or not c.next_period:
        return None
    if c.next_state == "missing":
        return f"the {c.next_period} return is missing (due {_on(c.next_due)})"
    if c.next_state == "due":
        return f"the {c.next_period} return was due {_on(c.next_due)} and has not landed yet"
    return f"the next return is due {_on(c.next_due)}"


def reminder_line(change: Change, esc: Escape = _same) -> str:
    """What a reminder says about one alert: 'still in failure since 2024-10; the next return
    is due 15 Nov', with the latest period when newer returns kept it there ('still in failure
    since 2024-10, latest 2025-01; ...') or left it out ('latest 2024-10; not in the newer
    returns (up to 2024-12)'), then the latest acknowledgement ('acknowledged by X on
    2024-11-20: note'). Plain text: the templates escape it."""
    since = change.red_since or change.period
    if is_overdue(change):
        line = f"still missing since {since}"
    else:
        line = f"{vocabulary.change('reminder', change.to_state)} since {since}"
        if change.newest_period and change.newest_period > change.period:  # newer returns left it out
            line += f", latest {change.period}; not in the newer returns (up to {change.newest_period})"
        elif change.period > since:
            line += f", latest {change.period}"
        upcoming = next_return_text(change)
        if upcoming:
            line += f"; {upcoming}"
    if change.acknowledged:
        by, on, note = change.acknowledged
        line += f"; acknowledged by {esc(by)} on {on}" + (f": {esc(note)}" if note else "")
    return line


def correction_text(c: Change, esc: Escape = _same) -> str | None:
    """'PI3 was reported RED at 72%; corrected to 86%, GREEN: the earlier RED is withdrawn'."""
    if not c.restated:
        return None
    now = f"{value_short(c, c.value)}, {c.to_state.upper()}"
    name = c.code or esc(c.name)
    if c.superseded_rating is None:
        return f"{name} had no rating in the earlier return; now {now}"
    said = f"{name} was reported {c.superseded_rating.upper()} at {value_short(c, c.superseded_value)}"
    if c.withdrawn:
        line = f"{said}; corrected to {now}: the earlier {c.withdrawn.upper()} is withdrawn"
        if c.kind == "corrected" and c.alert_state:  # the alert stands on a newer period
            line += f"; the alert stays {c.alert_state.upper()} (latest {c.alert_period or c.period})"
        return line
    return f"{said}; corrected to {now}, the same rating"


@dataclass(frozen=True)
class Item:
    """One change as every channel shows it."""

    change: Change
    title: str  # 'PI1 Single assessments completed within 45 working days' (from the pack)
    who: str  # 'Sandwell', 'Team ai-1', 'Worker SW-0003, team ai-1'
    heading: str  # the title, and whose it is for a team or worker row
    rating: str  # 'RED'
    what: str  # 'in failure (was within tolerance)'
    facts: tuple[tuple[str, str], ...]  # (label, value), Rating first; untrusted parts escaped
    url: str  # the indicator's page, '' without a base URL
    bands: tuple[tuple[str, str], ...] = ()  # (band, edges), for a table

    @property
    def state(self) -> str:
        return self.change.to_state


def item(c: Change, base_url: str = "", esc: Escape = _same, show_provider: bool = False) -> Item:
    if is_overdue(c):
        return _overdue_item(c, base_url, esc, show_provider)
    facts: list[tuple[str, str | None]] = [("Rating", rating_text(c)), ("Value", value_text(c, esc)),
                                           ("Period", c.period)]
    if show_provider:
        facts.append(("Provider", esc(provider_name(c.provider))))
    facts += [(esc(name), pounds(value)) for name, value in c.money]
    facts += [("Bands", bands_text(c) or None), ("Previously", previously_text(c)),
              ("Outside green", outside_green_text(c)), ("Comparators", comparators_text(c, esc)),
              ("Correction", correction_text(c, esc)),
              ("Reminder", reminder_line(c, esc) if c.kind == "reminder" else None),
              ("Return", f"{NOT_CONFIRMED}: it was held with queries and released unconfirmed when its hold ran out"
               if c.unconfirmed else None)]
    named, whose = title(c, esc), who(c, esc)
    heading = named if c.subject == c.provider else f"{named}: {whose}"
    return Item(c, named, whose, heading, c.to_state.upper(), what_text(c),
                tuple((label, value) for label, value in facts if value),
                indicator_url(base_url, c.indicator, c.provider, c.subject), tuple(band_lines(c)))


def _overdue_item(c: Change, base_url: str, esc: Escape, show_provider: bool) -> Item:
    facts = [("Rating", rating_text(c)), ("Value", overdue_value(c)), ("Period", c.period),
             ("Due", overdue_due(c))]
    if show_provider:
        facts.append(("Provider", esc(provider_name(c.provider))))
    if c.kind == "reminder":
        facts.append(("Reminder", reminder_line(c, esc)))
    named = title(c, esc)
    return Item(c, named, who(c, esc), named, c.to_state.upper(), _OVERDUE.get(c.kind, c.kind),
                tuple((label, value) for label, value in facts if value), "", ())


def _periods(changes: Sequence[Change]) -> list[str]:
    return sorted({c.period for c in changes})


_RANK = {"opened": 0, "escalated": 0, "reminder": 1, "deescalated": 2, "corrected": 3, "resolved": 4}


def _caseloads(changes: Sequence[Change]) -> list[tuple[str, int]]:
    """'caseloads over the ceiling for 2 workers and 2 teams', 'trust-wide average caseload 23
    in failure', the worse news first."""
    counts: dict[str, Counter] = {}
    trust = []
    for c in changes:
        if worker_id(c) is None and not c.subject.startswith(f"{c.provider}/team/"):
            said = f"trust-wide average caseload {fmt_value(c.value, c.unit)} {phrase(c)}"
            trust.append((_RANK.get(c.kind, 5), said, 1))
        else:
            counts.setdefault(c.kind, Counter())["worker" if worker_id(c) is not None else "team"] += 1
    words: dict[str, tuple[int, Counter]] = {}
    for kind, n in counts.items():  # opened and escalated say the same: counted together
        rank, seen = words.get(_CASELOADS[kind], (_RANK.get(kind, 5), Counter()))
        words[_CASELOADS[kind]] = (min(rank, _RANK.get(kind, 5)), seen + n)
    parts = [(rank, f"{word} for {_and([_count(n[s], s) for s in ('worker', 'team') if n[s]])}", sum(n.values()))
             for word, (rank, n) in words.items()]
    ordered = sorted(parts + trust, key=lambda p: p[0])
    first = next((i for i, p in enumerate(ordered) if not p[1].startswith("trust-wide")), None)
    out = [(text, n) for _, text, n in ordered]
    if first is not None:
        out[first] = (f"caseloads {out[first][0]}", out[first][1])
    return out


def _missing(changes: Sequence[Change]) -> list[tuple[str, int]]:
    """'KPI and caseload returns for 2025-04 missing': returns of one period said once."""
    groups: dict[str, list[str]] = {}
    out: list[tuple[str, int]] = []
    for c in changes:
        text = overdue_phrase(c)
        kind, _, rest = text.partition(" return for ")
        if "(" in rest:  # '(3 missing since 2025-01)' is the kind's own
            out.append((text, 1))
        else:
            groups.setdefault(rest, []).append(kind)
    grouped = [(f"{_and(kinds)} return{'s' if len(kinds) > 1 else ''} for {rest}", len(kinds))
               for rest, kinds in groups.items()]
    return grouped + out


def clauses(changes: Sequence[Change], esc: Escape = _same) -> list[tuple[str, int]]:
    """What changed, without where, most important first, each clause with how many changes it
    counts: ('2 KPIs in failure', 2), ('8 within tolerance', 8); ('forecast overspend £10.19m
    (9.7%) in failure', 1); ('caseloads over the ceiling for 3 workers', 3); a restatement of
    KPIs counts them as changed."""
    missing = [c for c in changes if is_overdue(c)]
    if missing:
        rest = [c for c in changes if not is_overdue(c)]
        return (clauses(rest, esc) if rest else []) + _missing(missing)
    if all(is_finance(c) for c in changes):
        ordered = sorted(changes, key=lambda c: vocabulary.CHANGE_ORDER.index(phrase(c))
                         if phrase(c) in vocabulary.CHANGE_ORDER else 99)
        return [(f"{finance_phrase(c, short=True, esc=esc)} {phrase(c)}", 1) for c in ordered]
    if all(c.return_kind == "caseload" for c in changes):
        return _caseloads(changes)
    noun = "KPI" if all(c.code for c in changes) else "alert"
    if any(c.restated for c in changes):
        return [(f"{_count(len(changes), noun)} changed", len(changes))]
    counts = Counter(phrase(c) for c in changes)
    found = [w for w in vocabulary.CHANGE_ORDER if counts[w]] + sorted(set(counts) - set(vocabulary.CHANGE_ORDER))
    return [((_count(counts[w], noun) if i == 0 else str(counts[w])) + f" {w}", counts[w])
            for i, w in enumerate(found)]


def summary(changes: Sequence[Change], esc: Escape = _same) -> str:
    """Every clause: '2 KPIs in failure, 8 within tolerance, 1 back on target'."""
    return ", ".join(text for text, _ in clauses(changes, esc))


def _where(changes: Sequence[Change]) -> tuple[str, tuple[str, ...]]:
    """(what goes before the clauses, the ways to say where after them, the longest first)."""
    periods = _periods(changes)
    restated = [c for c in changes if c.restated]
    if all(is_overdue(c) for c in changes):  # a returns check: no return to name
        return "", ("",)
    if restated:
        return f"correction to the {_and(_periods(restated))} return: ", ("",)
    if all(c.kind == "reminder" for c in changes):
        return "", (f" (latest period {periods[-1]})", f" (latest {periods[-1]})", "")
    return "", (f" in the {periods[-1]} return", f" ({periods[-1]} return)", f" ({periods[-1]})", "")


def _who(changes: Sequence[Change], esc: Escape = _same) -> str:
    providers = sorted({c.provider for c in changes})
    return esc(provider_name(providers[0])) if len(providers) == 1 else f"{len(providers)} providers"


def subject_parts(changes: Sequence[Change], esc: Escape = _same) -> tuple[str, str, str]:
    """(RAG, who, what) in full: the first line is 'who: what.'"""
    before, tails = _where(changes)
    unconfirmed = f" ({NOT_CONFIRMED})" if any(c.unconfirmed for c in changes) else ""
    return worst(changes).upper(), _who(changes, esc), f"{before}{summary(changes, esc)}{tails[0]}{unconfirmed}"


def subject_line(changes: Sequence[Change]) -> str:
    """'[RAG] who: what', at most MAX_SUBJECT characters, the most important first: e.g.
    '[RED] Sandwell: 2 KPIs in failure, 8 within tolerance in the 2024-04 return',
    '[RED] Sandwell: correction to the 2024-10 return: 2 KPIs changed',
    '[RED] Sandwell: forecast overspend £10.19m (9.7%) in failure, 1 more (2026-01)'."""
    before, tails = _where(changes)
    # a return released unconfirmed says so before anything else it says
    unconfirmed = ", not confirmed by the sender" if any(c.unconfirmed for c in changes) else ""
    return fit(f"[{worst(changes).upper()}] {_who(changes)}{unconfirmed}: {before}", clauses(changes), tails)


def lead(changes: Sequence[Change], esc: Escape = _same) -> str:
    """The message's first line. A restatement: which return it corrects, what changed, and the
    ratings it withdraws; otherwise the subject as a sentence, every clause said."""
    _, name, what = subject_parts(changes, esc)
    restated = [c for c in changes if c.restated]
    if not restated:
        return f"{name}: {what}."
    latest = max(restated, key=lambda c: c.restates_return_id or 0)
    when = f"the one received {day(latest.restates_received)}" if latest.restates_received else "the earlier one"
    text = (f"Correction: {name}'s {_and(_periods(restated))} return was restated, replacing {when}; "
            f"{summary(changes, esc)}.")
    if any(c.unconfirmed for c in changes):
        text += f" The return is {NOT_CONFIRMED}."
    withdrawn = [c for c in restated if c.withdrawn]
    if len(withdrawn) == 1:
        c = withdrawn[0]
        text += f" The earlier {(c.withdrawn or '').upper()} of {ref(c, esc)} is withdrawn."
    elif withdrawn:
        named = [f"{ref(c, esc)} ({(c.withdrawn or '').upper()})" for c in withdrawn[:MAX_WITHDRAWN_NAMED]]
        more = len(withdrawn) - len(named)
        text += (f" The earlier ratings of {_and(named + ([f'{more} more'] if more else []))} are withdrawn.")
    return text


def not_reported(changes: Sequence[Change]) -> list[tuple[str | None, str]]:
    """(code, name) of the KPIs the message's return(s) left unreported, in code order."""
    return sorted({n for c in changes for n in c.not_reported}, key=_code_order)


def _code_order(item: tuple[str | None, str]) -> tuple:
    code = item[0] or ""
    return (int(code[2:]) if code[:2].upper() == "PI" and code[2:].isdigit() else 999, code, item[1])


def return_periods(changes: Sequence[Change]) -> str:
    return ", ".join(sorted({c.period for c in changes if c.kind != "reminder"}))
