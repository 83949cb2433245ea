"""`kpi-alerts demo --serve` as a newcomer runs it: the printed link signs the local admin in,
/mail lists the example year's emails and opens one; Ctrl-C stops it."""

from __future__ import annotations

import re
import signal
import subprocess

import httpx2
import pytest

from tests.e2e.services import BIN, clean_env
from tests.peers import free_port, poll

pytestmark = pytest.mark.e2e


def test_demo_serve_signs_the_admin_in_and_shows_the_years_mail(tmp_path):
    port, folder, out = free_port(), tmp_path / "demo", tmp_path / "out.txt"
    base = f"http://127.0.0.1:{port}"
    with out.open("w") as sink:
        proc = subprocess.Popen([str(BIN / "kpi-alerts"), "demo", "--serve", "--port", str(port), "--folder",
                                 str(folder)], cwd=tmp_path, env=clean_env(), stdout=sink, stderr=subprocess.STDOUT)
    try:
        def healthy() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"exited {proc.returncode}:\n{out.read_text()}")
            try:
                return httpx2.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx2.TransportError:
                return False

        poll(healthy, 120, "demo --serve answering /healthz")
        printed = out.read_text()
        link = re.search(rf"{re.escape(base)}/signin/link\?token=\S+", printed).group(0)
        emails = int(re.search(r"mail \((\d+) emails", printed).group(1))
        assert emails == len(list((folder / "mail").glob("*.eml"))) > 0
        with httpx2.Client(timeout=10) as http:
            page = http.get(link)
            assert page.status_code == 200
            form = dict(re.findall(r'name="(csrf|token)" value="([^"]+)"', page.text))
            signed = http.post(f"{base}/signin/link", data=form)
            assert signed.status_code == 303, signed.text
            listing = http.get(f"{base}/mail")
            assert listing.status_code == 200 and "Local admin" in listing.text
            assert "[RED] Sandwell:" in listing.text
            hrefs = re.findall(r'href="(/mail/[^"]+\.eml)"', listing.text)
            assert len(hrefs) == emails
            one = http.get(base + hrefs[-1])
            assert one.status_code == 200 and "Sandwell" in one.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, out.read_text()
