"""Rendering a page: the Jinja environment (autoescaped, strict), the words and GOV.UK tag
colours of a rating (never colour alone), and the problem pages (403, 404)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from alerts.api.state import state_of
from alerts.web.security import CSRF_FIELD, Visitor, finish, may
from rules.vocabulary import STATUS

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(default=True), undefined=StrictUndefined, trim_blocks=True,
                        lstrip_blocks=True)
STATIC = "/static/govuk-frontend"
RAG_WORDS = {**{r: w[:1].upper() + w[1:] for r, w in STATUS.items()}, None: "Not rated"}  # rules/vocabulary.py
RAG_TAGS = {"green": "govuk-tag--green", "amber": "govuk-tag--yellow", "red": "govuk-tag--red", None: "govuk-tag--grey"}
TEMPLATES.filters["num"] = lambda v: f"{round(v, 2):g}"
TEMPLATES.filters["tuple_twice"] = lambda v: (v, v)  # a plain list as select options: the value is the label
TEMPLATES.globals.update(static=STATIC, rag_words=RAG_WORDS, rag_tags=RAG_TAGS, csrf_field=CSRF_FIELD)


def _mail_page(request: Request) -> bool:
    """The /mail link shows only when emails are written to a folder (the local demo)."""
    return bool(request.app.state.api.settings.mail_folder)


def _local(request: Request) -> Callable[[dt.datetime, str], str]:
    zone = ZoneInfo(state_of(request).settings.timezone)
    return lambda moment, fmt: moment.astimezone(zone).strftime(fmt)


def render(request: Request, template: str, found: Visitor, status: int = 200, **context: object) -> Response:
    html = TEMPLATES.get_template(template).render(
        user=found.user, csrf=found.csrf, may=lambda role: may(found.user, role), path=request.url.path,
        local=_local(request), mail_page=_mail_page(request), **context)
    return finish(request, HTMLResponse(html, status_code=status))


def render_fragment(request: Request, template: str, **context: object) -> bytes:
    """Main content that is the same for everyone (no user, no CSRF value), as UTF-8: cacheable
    (a national board is 850 KB: encoded once, not on every request)."""
    return TEMPLATES.get_template(template).render(local=_local(request), **context).encode()


_BODY = "\x00kpi-alerts-body\x00"  # where the fragment goes; autoescaping leaves NUL as is


def render_page(request: Request, found: Visitor, title: str, body: bytes, wide: bool = False,
                status: int = 200) -> Response:
    """The page around an already rendered fragment (render_fragment)."""
    page = TEMPLATES.get_template("page.html").render(
        user=found.user, csrf=found.csrf, may=lambda role: may(found.user, role), path=request.url.path,
        local=_local(request), mail_page=_mail_page(request), title=title, body=Markup(_BODY), wide=wide)  # noqa: S704 - a constant
    head, tail = page.split(_BODY)
    return finish(request, Response(head.encode() + body + tail.encode(), status_code=status,
                                    media_type="text/html"))


def problem(request: Request, found: Visitor, status: int, title: str, text: str) -> Response:
    return render(request, "problem.html", found, status, title=title, text=text)
