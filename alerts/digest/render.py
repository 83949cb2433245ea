"""Render a composed digest: subject and HTML (Apprise derives the plain-text part)."""

from __future__ import annotations

from markupsafe import Markup

from alerts.digest.compose import DigestModel, Row, WeekEvent
from alerts.templating import environment


def digest_subject(d: DigestModel) -> str:
    if d.steady:
        return f"Weekly KPI digest {d.week}: all steady ({d.headline})"
    return f"Weekly KPI digest {d.week}: {d.headline}"


RowCache = dict[tuple[str, int, bool], Markup]


def render_digest(d: DigestModel, base_url: str = "", unsubscribe_url: str = "",
                  cache: RowCache | None = None) -> tuple[str, str]:
    """`cache`: share it across one run's digests; a row (a KPI of a provider) appears in many
    digests and is rendered once. Rows are immutable and live as long as the run's WeekData."""
    env = environment()
    providers_shown = len({r.provider for r in d.kpis})
    rows: RowCache = {} if cache is None else cache

    def cached(template: str, item: Row | WeekEvent) -> Markup:
        key = (template, id(item), providers_shown > 1)
        if key not in rows:
            html = env.get_template(template).render(r=item, e=item, providers_shown=providers_shown)
            rows[key] = Markup(html)  # noqa: S704 - rendered by the autoescaping environment
        return rows[key]

    def row_html(r: Row) -> Markup:
        return cached("digest_row.html", r)

    def event_html(e: WeekEvent) -> Markup:
        return cached("digest_event.html", e)

    subject = digest_subject(d)
    html = env.get_template("digest.html").render(
        d=d, subject=subject, base_url=base_url.rstrip("/"), unsubscribe_url=unsubscribe_url,
        providers_shown=providers_shown, row_html=row_html, event_html=event_html)
    return subject, html
