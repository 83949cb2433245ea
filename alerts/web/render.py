"""Rendering a page: the Jinja environment (autoescaped, strict), the words and GOV.UK tag
colours of a rating (never colour alone), and the problem pages (403, 404)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from alerts.api.state import state_of
from alerts.web.security import CSRF_FIELD, Visitor, finish, may

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(default=True), undefined=StrictUndefined, trim_blocks=True,
                        lstrip_blocks=True)
STATIC = "/static/govuk-frontend"
RAG_WORDS = {"green": "On target", "amber": "Within tolerance", "red": "In failure", None: "Not rated"}
RAG_TAGS = {"green": "govuk-tag--green", "amber": "govuk-tag--yellow", "red": "govuk-tag--red", None: "govuk-tag--grey"}
TEMPLATES.filters["num"] = lambda v: f"{round(v, 2):g}"
TEMPLATES.globals.update(static=STATIC, rag_words=RAG_WORDS, rag_tags=RAG_TAGS, csrf_field=CSRF_FIELD)


def render(request: Request, template: str, found: Visitor, status: int = 200, **context: object) -> Response:
    zone = ZoneInfo(state_of(request).settings.timezone)
    html = TEMPLATES.get_template(template).render(
        user=found.user, csrf=found.csrf, may=lambda role: may(found.user, role), path=request.url.path,
        local=lambda moment, fmt: moment.astimezone(zone).strftime(fmt), **context)
    return finish(request, HTMLResponse(html, status_code=status))


def problem(request: Request, found: Visitor, status: int, title: str, text: str) -> Response:
    return render(request, "problem.html", found, status, title=title, text=text)
