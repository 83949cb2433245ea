"""The documentation (issue 19): a short README, every page of the site's nav there, and the
references generated from the code naming every command and every setting, so they cannot
drift. The strict MkDocs build itself runs in `make test` (docs-strict), before pytest."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import typer
import yaml

from alerts.cli import app
from config.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_reference", DOCS / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_pages(nav) -> list[str]:
    pages = []
    for item in nav:
        for value in item.values() if isinstance(item, dict) else [item]:
            pages.extend(_nav_pages(value) if isinstance(value, list) else [value])
    return pages


def _app_commands(group, prefix: str = "") -> set[str]:
    """Every command and group of the click tree, through click's `commands` mapping (not the
    generator's walk)."""
    names = set()
    for name, sub in getattr(group, "commands", {}).items():
        full = f"{prefix}{name}"
        names.add(full)
        names |= _app_commands(sub, full + " ")
    return names


def test_the_readme_is_at_most_15_kb():
    size = (ROOT / "README.md").stat().st_size
    assert size <= 15 * 1024, f"README.md is {size:,} bytes; move detail to docs/"


def test_the_readme_keeps_the_two_commands_and_links_every_reader_page():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"```sh\nmake demo\nmake test\n```", readme)
    for page in ("trusts", "leaders", "performance-team", "operators", "developers"):
        assert f"](docs/{page}.md)" in readme
    assert "](bench/README.md)" in readme


def test_every_page_in_the_nav_exists_or_is_generated(tmp_path):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["theme"]["name"] == "material"
    _generator().main(tmp_path)
    generated = {f"reference/{p.name}" for p in tmp_path.iterdir()}
    pages = _nav_pages(config["nav"])
    assert {"index.md", "trusts.md", "leaders.md", "performance-team.md", "operators.md",
            "developers.md", "benchmarks.md"} <= set(pages)
    missing = [p for p in pages if not (DOCS / p).is_file() and p not in generated]
    assert missing == []
    # The generated pages are built at each build, never committed stale.
    assert "docs/reference/" in (ROOT / ".gitignore").read_text().split()


def test_the_commands_reference_names_every_command_of_the_app():
    page = _generator().commands_page()
    commands = _app_commands(typer.main.get_command(app))
    assert {"ingest", "returns confirm", "subscriptions", "tokens create"} <= commands
    headings = set(re.findall(r"^## `kpi-alerts ([^`]+)`$", page, re.M))
    assert commands - headings == set()
    assert headings - commands == set()


def test_the_settings_reference_names_every_setting_with_a_description():
    rows = {m[0]: m[1] for m in re.findall(r"^\| `(KPI_ALERTS_[A-Z_]+)` \|.*\| ([^|]*) \|$",
                                            _generator().settings_page(), re.M)}
    expected = {f"KPI_ALERTS_{name.upper()}" for name in Settings.model_fields}
    assert set(rows) == expected
    assert [name for name, note in rows.items() if not note.strip()] == []


def test_the_hand_written_command_table_names_only_real_commands():
    """The performance team's table (docs/performance-team.md) explains each command in
    words; every command it names must exist (the generated reference has the options)."""
    commands = _app_commands(typer.main.get_command(app))
    text = (DOCS / "performance-team.md").read_text()
    named = re.findall(r"^\| `kpi-alerts ([a-z-]+(?: [a-z-]+)?)", text, re.M)
    assert named
    for words in named:
        assert words in commands or words.split()[0] in commands, words
