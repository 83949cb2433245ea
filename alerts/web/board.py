"""The status board (`/`) and an indicator's page (`/indicators/KEY?provider=P`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from alerts.api.state import ApiState, state_of
from alerts.digest.compose import WeekData, latest_comparators
from alerts.indicators import rules_for_indicator
from alerts.store.db import get_engine, session_for
from alerts.store.models import utcnow
from alerts.store.queries import subject_history
from alerts.web.chart import Interval, Month, series_svg
from alerts.web.render import problem, render_fragment, render_page
from alerts.web.security import Visitor, signed_in
from alerts.web.views import (
    RATINGS,
    Filters,
    axis_label,
    bands_said,
    boards,
    columns,
    comparator_lines,
    current_rule,
    history_line,
    rule_title,
    tags_of,
    value_text,
)
from rules.bands import band_sentence, bands_from_described, sentence_unit
from rules.periods import period_start
from rules.vocabulary import provider_name, subject_name

router = APIRouter(include_in_schema=False)


@router.get("/")
@router.get("/status")  # the address every message's "Full status page" links to
async def status_board(request: Request, found: Annotated[Visitor, Depends(signed_in)], provider: str = "",
                       tag: str = "", rating: str = "") -> Response:
    """Every provider as a grid of its contract KPIs, or one provider in full (its headline,
    each indicator's value, period, direction of travel and months outside green, finance,
    caseloads and missing returns); filtered by provider, tag and rating."""
    state = state_of(request)
    filters = Filters(provider or None, tag or None, rating if rating in (*RATINGS, "none") else None)

    def build(data: WeekData) -> tuple[bytes, bool]:
        found_boards = boards(state.catalog, data, filters)
        providers = sorted({r.provider for r in data.rows})
        body = render_fragment(request, "status_body.html", boards=found_boards, columns=columns(found_boards),
                               filters=filters, providers=[(p, provider_name(p)) for p in providers],
                               tags=tags_of(state.catalog), ratings=RATINGS)
        return body, len(found_boards) > 1

    def read() -> tuple[bytes, bool]:
        with session_for(state.settings.database_url) as session:
            data, version = state.snapshot.get(session, state.catalog, state.settings.timezone, utcnow())
        return state.snapshot.fragment(version, name, lambda: build(data))

    name = ("board", filters)
    hit = state.snapshot.cached(_url(state), state.catalog, state.settings.timezone, utcnow(), name)
    body, wide = hit or await run_in_threadpool(read)
    return render_page(request, found, "Status board", body, wide)


def _url(state: ApiState) -> str:
    """The database URL as the snapshot keys it (SQLAlchemy's rendering, password hidden)."""
    return str(get_engine(state.settings.database_url).url)


def _bands(thresholds: dict) -> dict[str, tuple[Interval, ...]]:
    """The bands a month was rated with (its stored thresholds: a caseload's are the worker's own
    ceiling), as the chart shades them; {} when they cannot be read."""
    bands = bands_from_described(thresholds)
    if bands is None:
        return {}
    return {name: tuple(Interval(iv.lower[0], iv.upper[0]) for iv in getattr(bands, name))
            for name in ("green", "amber", "red")}


@router.get("/indicators/{key}")
async def indicator_page(request: Request, key: str, found: Annotated[Visitor, Depends(signed_in)],
                         provider: str | None = None, subject: str | None = None) -> Response:
    """The series (of the provider, or one of its teams or workers: `subject`) over the bands
    as they were in force, the same as a table, the rule's notes and source, and the alert's
    history with acknowledgements and their notes."""
    state = state_of(request)
    catalog = state.catalog
    rule_ids = rules_for_indicator(catalog, key)
    if not rule_ids:
        return problem(request, found, 404, "Page not found", f"No indicator is called {key}.")

    def build(session: Session) -> tuple[str, bytes]:
        rows, events = subject_history(session, rule_ids, provider, subject)
        chosen = rows[0].subject if rows else (subject or provider or "")
        today = utcnow().date()
        bound = catalog.rules_by_id[rows[-1].rule_id] if rows else (
            current_rule(catalog, key, today) or catalog.rules_by_id[rule_ids[0]])  # PI4 means today's PI4
        months = [Month(r.period, r.value, r.rating, _bands(r.thresholds)) for r in rows]
        suffix = "%" if sentence_unit(bound.rule) == "percent" else ""
        lines = comparator_lines(catalog, bound.id)
        title = rule_title(catalog, bound.id)
        latest = bound.rule.version_for(period_start(rows[-1].period) if rows else today)
        table = [{"period": r.period, "value": value_text(catalog, r.rule_id, r.value), "rating": r.rating,
                  "bands": bands_said(catalog.rules_by_id[r.rule_id].rule, r.thresholds)} for r in reversed(rows)]
        # the bands stated once above the chart: the newest month's, word for word as its row says them
        bands = table[0]["bands"] if table else (
            band_sentence(latest.bands, sentence_unit(bound.rule)) if latest and latest.bands else "")
        name = subject_name(chosen)
        return f"{title}, {name}", render_fragment(
            request, "indicator_body.html", title=title, name=name, bands=bands,
            chart=series_svg(months, f"{title}, {name}", suffix, lines, axis_label(bound.rule)), rows=table,
            comparators=latest_comparators((c.name, c.value, c.as_of) for c in bound.rule.comparators),
            unit_suffix=suffix, history=[history_line(e, state.settings.timezone) for e in reversed(events)],
            notes=(latest.notes if latest else []) + bound.rule.notes,
            source=(latest.source if latest else None) or bound.pack.source)

    def read() -> tuple[str, bytes]:
        with session_for(state.settings.database_url) as session:
            version = state.snapshot.key(session, catalog, state.settings.timezone, utcnow())
            return state.snapshot.fragment(version, name, lambda: build(session))

    name = ("indicator", key, provider, subject)
    hit = state.snapshot.cached(_url(state), catalog, state.settings.timezone, utcnow(), name)
    title, body = hit or await run_in_threadpool(read)
    return render_page(request, found, title, body)
