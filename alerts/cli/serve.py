"""`kpi-alerts serve`: the HTTP API (alerts/api/) on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from alerts.cli.common import fail, say

app = typer.Typer()

# uvicorn's own logging, with plain formatters: the log-record factory (alerts/notify/redact.py)
# masks the unsubscribe token in an access line's query (`?token=****`) by rewriting the record's
# message, which uvicorn's AccessFormatter, unpacking the record's args, cannot format.
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "alerts": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=0, max=65535)] = 8000,
) -> None:
    """Run the HTTP API: POST /api/returns, /unsubscribe, /healthz, /metrics (OpenAPI at /docs)."""
    import uvicorn

    from alerts.api import create_app
    from alerts.api.metrics import serve_metrics
    from alerts.api.read_timeouts import timed_protocol
    from config import get_settings
    from rules.loader import PackError

    settings = get_settings()
    if (problem := settings.host_problem) is not None:
        raise fail(f"kpi-alerts serve: not starting: {problem}", 2)
    try:
        api = create_app(settings)
    except PackError as exc:
        for p in exc.problems:
            say(str(p), stderr=True)
        raise fail("rule packs have problems; run `kpi-alerts rules check`", 1) from None
    if settings.metrics_port is not None:
        state = api.state.api
        try:
            serve_metrics(settings, state.metrics, state.broker)
        except OSError as exc:  # the port is taken, or the address is not this machine's
            raise fail(f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port}: {exc}", 1) \
                from None
    # slow clients: a request's head and body must arrive within their timeouts (read_timeouts.py)
    uvicorn.run(api, host=host, port=port, log_config=LOG_CONFIG, proxy_headers=False, server_header=False,
                http=timed_protocol(settings.header_timeout, settings.body_timeout))
