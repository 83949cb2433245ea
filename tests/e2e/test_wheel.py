"""The install that ships (issue 17): the wheel `pip install .` builds in the image works.

The rest of the suite runs the editable install, which reads templates, static files and
examples straight from the checkout, so a file missing from the wheel goes unseen there.
Here the wheel is built from what the Dockerfile copies into the image (its COPY lines, less
.dockerignore), offline, then installed in a fresh virtualenv that borrows only the project
virtualenv's dependencies, and run from an empty folder on a fresh database: `db upgrade`,
a subscriber, an ingest that emails them, `digest preview`, `demo`, and `serve` with its CSS."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from tests.conftest import ROOT
from tests.e2e.services import ApiServer
from tests.peers import free_port, poll

PACKAGES = ("alerts", "config", "returns", "rules", "workers")


def _docker_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex over paths relative to the context: `**` any number
    of folders, `*` and `?` within one name."""
    out = ""
    for part in re.split(r"(\*\*/?|\*|\?)", pattern.strip("/")):
        out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
    return re.compile(out)


def _ignored(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path, or a folder above it, decides."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for negated, rx in rules:
        if any(rx.fullmatch(p) for p in prefixes):
            result = not negated
    return result


def copy_build_context(dest: Path) -> None:
    """Lay out in `dest` what the Dockerfile's COPY lines put in its WORKDIR, .dockerignore
    applied, as `docker build` would (there is no Docker engine here)."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), _docker_pattern(line.lstrip("!"))))
    copies = [line.split()[1:] for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
              if line.startswith("COPY ")]
    assert copies, "the Dockerfile copies nothing"
    for *sources, target in copies:
        assert not any(s.startswith("--") for s in sources), "COPY with flags: teach copy_build_context them"
        for source in sources:
            start = ROOT / source
            files = [start] if start.is_file() else sorted(p for p in start.rglob("*") if p.is_file())
            for file in files:
                rel = file.relative_to(ROOT).as_posix()
                if _ignored(rel, rules):
                    continue
                into = dest / target / (file.name if start.is_file() else file.relative_to(start))
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, into)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel the image's `pip install .` builds, built offline with the virtualenv's
    setuptools (the dev extra pins one that builds wheels by itself)."""
    context = tmp_path_factory.mktemp("image-src")
    copy_build_context(context)
    dist = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "--quiet", "--wheel-dir", str(dist), str(context)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, ("building the wheel needs setuptools>=70.1 in the virtualenv (the dev extra; "
                                   f"`make` reinstalls):\n{built.stdout}\n{built.stderr}")
    (found,) = dist.glob("kpi_alerts-*.whl")
    return found


@dataclass
class Installed:
    python: Path
    exe: Path  # the console script
    site: Path  # the fresh virtualenv's site-packages, where the wheel went

    def env(self, **settings: str) -> dict[str, str]:
        """No PYTHONPATH (it would put a checkout first) and no KPI_ALERTS_* but these."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("KPI_ALERTS_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update({f"KPI_ALERTS_{k.upper()}": v for k, v in settings.items()})
        return env


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Installed:
    """A fresh virtualenv with the wheel installed. Its dependencies come from the project
    virtualenv's site-packages, named as plain lines of a .pth file: lines are only appended to
    sys.path, the .pth files inside are not run, so the editable install's finder is not
    there and `alerts` can only come from the wheel."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    dependencies = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]  # not PYTHONPATH's
    (purelib / "project-dependencies.pth").write_text("".join(f"{p}\n" for p in dependencies))
    it = Installed(python=python, exe=venv / "bin" / "kpi-alerts", site=purelib)
    pip = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed",
                          "--quiet", str(wheel)], capture_output=True, text=True, env=it.env(), timeout=300)
    assert pip.returncode == 0, pip.stderr
    where = subprocess.run([str(python), "-c", "import json, sys, importlib; print(json.dumps([sys.path, "
                            f"[importlib.import_module(m).__file__ for m in {PACKAGES!r}]]))"],
                           cwd=venv, capture_output=True, text=True, env=it.env(), check=True)
    path, files = json.loads(where.stdout)
    assert all(Path(f).is_relative_to(purelib) for f in files), files  # the wheel's, not the checkout's
    assert str(ROOT) not in path
    return it


def test_every_tracked_file_of_the_packages_is_in_the_wheel(wheel):
    """Templates, static files in nested folders, packs, script.py.mako, the examples the demo
    ingests: whatever git tracks under the packages ships (tests excluded)."""
    tracked = subprocess.run(["git", "ls-files", "-z", "--", *PACKAGES], cwd=ROOT, capture_output=True, check=True,
                             text=True).stdout.split("\0")
    tracked = {p for p in tracked if p and "/tests/" not in f"/{p}"}
    assert any(p.startswith("alerts/web/static/") for p in tracked)  # the listing found the files
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert sorted(tracked - shipped) == []
    assert not [n for n in shipped if n.endswith(".pyc") or "__pycache__" in n]


@pytest.mark.e2e
def test_the_installed_wheel_works_from_an_empty_folder(installed, tmp_path, smtp_server):
    port = free_port()
    env = installed.env(database_url=f"sqlite:///{tmp_path / 'fresh.db'}", email_url=smtp_server.apprise_url,
                        email_from="kpi@example.org", base_url=f"http://127.0.0.1:{port}")

    def kpi_alerts(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([str(installed.exe), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"kpi-alerts {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
        return done

    kpi_alerts("db", "upgrade")
    kpi_alerts("subscribe", "Lead", "--email", "lead@example.org")
    (subscriber,) = {s["subscriber_id"] for s in json.loads(kpi_alerts("subscriptions", "--json").stdout)}

    example = installed.site / "alerts" / "examples" / "sandwell-2024-25" / "kpi-2024-10.csv"  # shipped
    landed = json.loads(kpi_alerts("ingest", "--json", str(example)).stdout)
    assert (landed["return"]["status"], landed["return"]["evaluation"]) == ("accepted", "done")
    assert any(t["to"] == "red" and t["kind"] == "opened" for t in landed["transitions"])
    (_, to, msg), = smtp_server.wait_for(1, timeout=30)
    assert to == ["lead@example.org"] and msg["Subject"].startswith("[RED] Sandwell:")
    assert json.loads(kpi_alerts("returns", "pending", "--json").stdout) == []
    assert [d["status"] for d in json.loads(kpi_alerts("deliveries", "--json").stdout)] == ["sent"]
    assert smtp_server.count == 1  # exactly one email

    out = tmp_path / "digest.html"
    kpi_alerts("digest", "preview", "--subscriber", str(subscriber), "--out", str(out))
    assert "<html" in out.read_text(encoding="utf-8").lower()

    demo = kpi_alerts("demo")
    assert "10 KPIs on target, 5 within tolerance, none in failure" in demo.stdout

    server = ApiServer(tmp_path, env, port, exe=installed.exe)
    try:
        with httpx2.Client(base_url=server.url, timeout=30) as http:
            poll(lambda: http.get("/healthz").status_code == 200, 30, "/healthz answering 200")
            signin = http.get("/signin")
            assert signin.status_code == 200
            sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', signin.text)
            assert len(sheets) >= 2, signin.text  # GOV.UK Frontend's and the app's own
            for href in sheets:
                css = http.get(href)
                assert (css.status_code, css.headers["content-type"].split(";")[0]) == (200, "text/css"), href
                assert css.content, href
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()
