"""Render a composed digest: subject, HTML part and plain-text part (the same facts)."""

from __future__ import annotations

from markupsafe import Markup

from alerts.digest.compose import DigestModel, Row, WeekEvent
from alerts.notify.wording import MAX_SUBJECT
from alerts.templating import environment
from rules.vocabulary import STATUS


def digest_subject(d: DigestModel) -> str:
    """'Weekly digest 2026-W09: 2 in failure, 5 within tolerance, 10 on target' (every
    provider-level indicator it shows: KPIs, finance, the trust's average caseload), then '3
    returns overdue' when the returns calendar says so at the cut-off, and 'all steady' in a
    quiet week; at most MAX_SUBJECT characters: what matters least goes first (a band with none
    in it, all steady, on target, within tolerance, then overdue); what is in failure always stays."""
    head = f"{'Monthly' if d.monthly else 'Weekly'} digest {d.week}: "
    if d.no_data:
        last = d.days[-1]
        return f"{head}no data yet, no return landed by {last:%a} {last.day} {last:%b %Y}"
    c = d.subject_counts
    parts = {band: f"{c[band] or 'none'} {STATUS[band]}" for band in ("red", "amber", "green")}
    if d.returns_overdue:
        parts["overdue"] = f"{d.returns_overdue} return{'s' if d.returns_overdue != 1 else ''} overdue"
    if d.steady:
        parts["steady"] = "all steady"
    zero = [band for band in ("amber", "green") if not c[band]]  # 'none within tolerance' says least
    for drop in (None, *zero, "steady", "green", "amber", "overdue"):
        parts.pop(drop or "", None)
        subject = head + ", ".join(parts.values())
        if len(subject) <= MAX_SUBJECT:
            return subject
    return subject[:MAX_SUBJECT - 1] + "\u2026"


RowCache = dict[tuple[str, int, bool], str]


def render_digest(d: DigestModel, base_url: str = "", unsubscribe_url: str = "",
                  cache: RowCache | None = None) -> tuple[str, str, str]:
    """`cache`: share it across one run's digests; a row (a KPI of a provider) appears in many
    digests and is rendered once. Rows are immutable and live as long as the run's WeekData."""
    env = environment()
    providers_shown = len({r.provider for r in d.kpis})
    rows: RowCache = {} if cache is None else cache

    def cached(template: str, item: Row | WeekEvent) -> str:
        key = (template, id(item), providers_shown > 1)
        if key not in rows:
            rows[key] = env.get_template(template).render(r=item, e=item, providers_shown=providers_shown)
        return rows[key]

    def html_of(template: str):  # noqa: ANN202
        # Safe: rendered by the autoescaping environment (.html templates).
        return lambda item: Markup(cached(template, item))  # noqa: S704

    def text_of(template: str):  # noqa: ANN202
        return lambda item: cached(template, item)

    subject = digest_subject(d)
    context = dict(d=d, subject=subject, base_url=base_url.rstrip("/"), unsubscribe_url=unsubscribe_url,
                   providers_shown=providers_shown)
    html = env.get_template("digest.html").render(
        **context, row_html=html_of("digest_row.html"), event_html=html_of("digest_event.html"))
    text = env.get_template("digest.txt").render(
        **context, row_text=text_of("digest_row.txt"), event_text=text_of("digest_event.txt"))
    return subject, html, text
