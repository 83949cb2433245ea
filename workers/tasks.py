"""Thin tasks: each loads settings, opens a session and calls one pipeline step."""

from __future__ import annotations

from alerts.evaluation import Outcome, evaluate_return
from alerts.store.db import session_for
from config import get_settings
from rules.check import load_catalog
from workers.app import app


@app.task(name="kpi_alerts.evaluate_return", autoretry_for=(OSError,), retry_backoff=True, retry_backoff_max=300,
          max_retries=5)
def evaluate_return_task(return_id: int) -> Outcome:
    settings = get_settings()
    with session_for(settings.database_url) as session:
        return evaluate_return(session, load_catalog(settings.rules_dir), return_id)
