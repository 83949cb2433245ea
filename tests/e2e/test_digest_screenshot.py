"""A digest as a person sees it: rendered by headless Chromium (Debian's `chromium`), the
screenshot is not blank and shows the RAG colours, and the rendered page holds the facts."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from PIL import Image

from alerts.digest.render import render_digest
from alerts.digest.run import compose_for
from alerts.store.db import session_for
from alerts.store.models import utcnow
from alerts.usecases.subscriptions import SubscriptionSpec, subscribe
from rules.loader import load_catalog
from tests.conftest import NEXT_WEEK

pytestmark = pytest.mark.e2e
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium")
    assert exe, "Debian's chromium is not installed (make test installs it)"
    return subprocess.run([exe, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args], capture_output=True,
                          text=True, timeout=120)


def test_digest_renders_in_chromium(make_settings, landed_year, tmp_path):
    settings = make_settings(database_url=landed_year)
    catalog = load_catalog(settings.rules_dir)
    with session_for(settings.database_url) as s:
        subscribe(s, catalog, "Chief executive", "ceo@example.org", None, SubscriptionSpec(delivery="digest"))
        _, model = compose_for(s, catalog, settings.timezone, NEXT_WEEK, 1, utcnow())
    _, html, _text = render_digest(model, "https://alerts.example.org")
    page = tmp_path / "digest.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "digest.png"
    res = chromium(tmp_path, "--window-size=900,2200", f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), res.stderr[-2000:]
    img = Image.open(shot).convert("RGB")
    assert img.size == (900, 2200)
    colours = img.getcolors(maxcolors=1_000_000)
    assert colours is not None
    white = sum(n for n, rgb in colours if min(rgb) > 245)
    assert white < 0.9 * img.size[0] * img.size[1]  # not blank
    present = {rgb for _, rgb in colours}
    for rag in ((0x2E, 0x7D, 0x32), (0xF9, 0xA8, 0x25), (0xC6, 0x28, 0x28)):  # green, amber and red chips/bars
        assert rag in present
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    for text in ("10 KPIs on target, 5 within tolerance, none in failure", "PI13", "Finance", "Caseloads",
                 "18 returns overdue by the returns calendar", "Full status page",  # no worker rows: issue 10
                 # PI1's year
                 "2024-25 to date (Apr–Mar): 1 of 12 months on target, 10 within tolerance, 1 in failure",
                 "Comparators: statistical neighbours 50.2 (2024-03), England 41.6 (2024-03)",  # PI4's
                 "Forecast by month, 2025-26", "£10.19m"):
        assert text in dom, text
