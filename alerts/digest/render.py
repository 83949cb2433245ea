"""Render a composed digest: subject and HTML (Apprise derives the plain-text part)."""

from __future__ import annotations

from alerts.digest.compose import DigestModel
from alerts.templating import environment


def digest_subject(d: DigestModel) -> str:
    if d.steady:
        return f"Weekly KPI digest {d.week}: all steady ({d.headline})"
    return f"Weekly KPI digest {d.week}: {d.headline}"


def render_digest(d: DigestModel, base_url: str = "", unsubscribe_url: str = "") -> tuple[str, str]:
    subject = digest_subject(d)
    html = environment().get_template("digest.html").render(
        d=d, subject=subject, base_url=base_url.rstrip("/"), unsubscribe_url=unsubscribe_url,
        providers_shown=len({r.provider for r in d.kpis}))
    return subject, html
