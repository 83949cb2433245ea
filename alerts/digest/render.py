"""Render a composed digest: subject, HTML part and plain-text part (the same facts)."""

from __future__ import annotations

from markupsafe import Markup

from alerts.digest.compose import DigestModel, Row, WeekEvent
from alerts.templating import environment


def digest_subject(d: DigestModel) -> str:
    kind = "Monthly" if d.monthly else "Weekly"
    if d.steady:
        return f"{kind} KPI digest {d.week}: all steady ({d.headline})"
    return f"{kind} KPI digest {d.week}: {d.headline}"


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
