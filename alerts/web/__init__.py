"""The leaders' web app (issue 12): server-rendered pages in the GOV.UK Frontend look that work
without JavaScript, one module per page (sign-in, the status board and indicators, alerts, my
subscriptions, returns, users), sharing security.py (session, CSRF, roles) and render.py."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> tuple[APIRouter, ...]:
    from alerts.web import admin, alert_pages, board, mail_pages, me, return_pages, signin_pages, token_pages

    return (signin_pages.router, board.router, alert_pages.router, me.router, return_pages.router, token_pages.router,
            admin.router, mail_pages.router)
