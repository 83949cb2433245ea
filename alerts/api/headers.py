"""The security headers of every response (pages, JSON, static files, redirects, 404s and 500s):
one ASGI middleware, wrapped around the whole app by `create_app` (outside Starlette's own
error middleware, so a 500 carries them too).

- Content-Security-Policy: scripts, styles, images and fonts from this origin only: no inline
  script, no inline style, no framing (`frame-ancestors 'none'`, and X-Frame-Options: DENY for
  older browsers); forms post only here. The API documentation page (/docs) too: Swagger UI is
  vendored under static/swagger-ui and sets its styles through the DOM, which CSP allows.
- X-Content-Type-Options: nosniff; Referrer-Policy: same-origin; Cross-Origin-Opener-Policy.
- Strict-Transport-Security only when KPI_ALERTS_BASE_URL is https: decided from the setting,
  never from a request header a client (or a proxy) could set.

A header the route set itself is kept: the unsubscribe page's stricter `no-referrer` and CSP, and
the digest preview's (a sandbox with no script, which /me, and only this origin, frames).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HSTS = "max-age=31536000"


def security_headers(https: bool) -> dict[str, str]:
    found = {"Content-Security-Policy": CSP,
             "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
             "Cross-Origin-Opener-Policy": "same-origin"}
    if https:
        found["Strict-Transport-Security"] = HSTS
    return found


class SecurityHeaders:
    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app, self.https = app, https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = security_headers(self.https)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
