"""Write the generated reference pages from the code, so they cannot drift from it:
docs/reference/commands.md from the Typer app (alerts.cli) and docs/reference/settings.md
from config.settings.Settings (each field's comment in settings.py is its description).

Run by `make docs` and `make test` before the MkDocs build; the pages are not committed.
Usage: python docs/gen_reference.py [OUT_DIR]
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_PY = ROOT / "config" / "settings.py"
ENV_PREFIX = "KPI_ALERTS_"


# Typer ships its own copy of click (typer._click), so the tree is walked by duck typing.
def _commands(group: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """Every command of the tree under `group`, depth first in name order. A group is listed
    too: some run on their own (`kpi-alerts subscriptions` lists, `deliveries` shows the log)."""
    found: list[tuple[tuple[str, ...], Any]] = [(path, group)]
    if hasattr(group, "list_commands"):
        ctx = group.context_class(group, info_name=" ".join(path))
        for name in sorted(group.list_commands(ctx)):
            sub = group.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                found.extend(_commands(sub, (*path, name)))
    return found


def command_names() -> list[str]:
    """`ingest`, `returns confirm`, ...: every command of the app, as typed after kpi-alerts."""
    import typer

    from alerts.cli import app

    root = typer.main.get_command(app)
    return [" ".join(path[1:]) for path, _ in _commands(root, ("kpi-alerts",))][1:]


def _type(param: Any) -> str:
    """The parameter's Python type as the command's function declares it (`float`, `list[Path]`)."""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if annotation is None:
        return _cell(str(getattr(getattr(param, "type", None), "name", "") or ""))
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return _cell(text.replace("typing.", "").replace("pathlib.", "").replace("datetime.", ""))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def commands_page() -> str:
    import typer

    from alerts.cli import app

    root = typer.main.get_command(app)
    out = ["# Command reference", "",
           "Generated from the Typer app (`alerts/cli/`) by `docs/gen_reference.py`: every command,",
           "its usage, help and options, exactly as `kpi-alerts COMMAND --help` gives them.", ""]
    for path, cmd in _commands(root, ("kpi-alerts",)):
        name = " ".join(path)
        ctx = cmd.context_class(cmd, info_name=name)
        out += [f"## `{name}`", "", "```text", cmd.get_usage(ctx), "```", ""]
        if cmd.help:
            out += [cmd.help.strip(), ""]
        rows = []
        for param in cmd.get_params(ctx):
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "argument":
                rows.append((f"`{param.name.upper()}`", f"argument: {_type(param)}",
                             "required" if param.required else "", getattr(param, "help", "") or ""))
                continue
            if param.param_type_name != "option":
                continue
            opts = " / ".join(f"`{o}`" for o in (*param.opts, *param.secondary_opts))
            default = "" if param.default is None or param.is_flag and param.default is False else repr(param.default)
            kind = "flag" if param.is_flag else _type(param)
            rows.append((opts, kind, "required" if param.required else _cell(default), param.help or ""))
        if rows:
            out += ["| parameter | type | default | help |", "|---|---|---|---|"]
            out += [f"| {a} | {b} | {c} | {_cell(d)} |" for a, b, c, d in rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _comments(source: str) -> dict[int, str]:
    """Line number -> the text of the comment on it."""
    return {tok.start[0]: tok.string.lstrip("#").strip()
            for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}


def _env_example_notes() -> dict[str, str]:
    """KPI_ALERTS_NAME -> the comment block just above its line in .env.example."""
    notes: dict[str, str] = {}
    block: list[str] = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        text = line.lstrip("#").strip()
        name = text.split("=", 1)[0] if text.startswith(ENV_PREFIX) and "=" in text else ""
        if name:
            notes.setdefault(name, " ".join(block))
            block = []
        elif line.startswith("#") and not text.startswith("---"):
            block.append(text)
        else:
            block = []
    return notes


def settings_fields() -> list[tuple[str, str, str, str]]:
    """(field, type, default, description) of every Settings field, in the order of settings.py.

    The description is the field's own comment in settings.py (the block just above it, and
    the one on its line); a field without one (it shares its group's comment) takes the comment
    .env.example gives it, else its group's.
    """
    source = SETTINGS_PY.read_text()
    lines = source.splitlines()
    comments = _comments(source)
    env_notes = _env_example_notes()
    cls = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    fields = []
    group_note = ""
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        n = node.lineno
        above: list[str] = []
        i = n - 1
        while i >= 1 and lines[i - 1].strip().startswith("#"):
            above.insert(0, comments[i])
            i -= 1
        if above:
            group_note = " ".join(above)
        elif not lines[n - 2].strip():
            group_note = ""
        inline = comments.get(n, "")
        own = " ".join(x for x in (" ".join(above), inline) if x)
        name = node.target.id
        note = own or env_notes.get(ENV_PREFIX + name.upper(), "") or group_note
        fields.append((name, ast.get_source_segment(source, node.annotation) or "",
                       _default(source, node.value), note))
    return fields


def _default(source: str, value: ast.expr | None) -> str:
    if value is None:
        return "(required)"
    if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "Field":
        for kw in value.keywords:
            if kw.arg == "default_factory" and isinstance(kw.value, ast.Lambda):
                return ast.get_source_segment(source, kw.value.body) or ""
        limits = ", ".join(ast.get_source_segment(source, kw) or ""
                           for kw in value.keywords if kw.arg != "allow_inf_nan")
        first = ast.get_source_segment(source, value.args[0]) if value.args else ""
        return f"{first} ({limits})" if limits else first or ""
    return ast.get_source_segment(source, value) or ""


def settings_page() -> str:
    out = ["# Settings reference", "",
           "Generated from `config.settings.Settings` by `docs/gen_reference.py`. Every setting is an",
           f"environment variable `{ENV_PREFIX}<NAME>` (or a line in `.env`); `.env.example` lists them all",
           "for docker compose. Defaults are as written in `config/settings.py`; limits in brackets.", "",
           "| variable | type | default | what it does |", "|---|---|---|---|"]
    for name, typ, default, note in settings_fields():
        out.append(f"| `{ENV_PREFIX}{name.upper()}` | `{_cell(typ)}` | `{_cell(default)}` | {_cell(note)} |")
    return "\n".join(out) + "\n"


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "commands.md").write_text(commands_page())
    (out_dir / "settings.md").write_text(settings_page())


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "reference")
