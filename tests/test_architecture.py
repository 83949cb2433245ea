"""The tree shows the pipeline: these tests keep it so.

- no import cycle between modules (imports inside functions count: a cycle hidden in a
  function is still a cycle);
- `alerts` never imports `workers` (use cases take a dispatcher);
- every SQL statement lives under `alerts/store/` (nothing else imports SQLAlchemy/SQLModel);
- the pure core (parsing, rating, lifecycle, stages, composition) imports no I/O layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("alerts", "rules", "returns", "workers", "config")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `path` imports, anywhere in the file (TYPE_CHECKING blocks excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    found: set[str] = set()
    me = _module_name(path)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != me:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules():
    assert _cycles(_graph()) == []


def test_no_import_cycle_between_packages():
    packages: dict[str, set[str]] = {}
    for mod, deps in _graph().items():
        top = mod.split(".")[0]
        packages.setdefault(top, set()).update(d.split(".")[0] for d in deps if d.split(".")[0] != top)
    assert _cycles(packages) == []
    assert "workers" not in packages["alerts"]


def _third_party(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def _sql_imports(path: Path) -> set[str]:
    """What a module imports from SQLAlchemy/SQLModel, except the `Session` type that use cases
    take as an argument (the transaction they run in)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in ("sqlalchemy", "sqlmodel")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("sqlalchemy",
                                                                                                 "sqlmodel"):
            found |= {f"{node.module}.{a.name}" for a in node.names} - {"sqlmodel.Session"}
    return found


def test_sql_lives_under_alerts_store():
    offenders = {name: sorted(_sql_imports(path)) for name, path in _modules().items()
                 if not name.startswith("alerts.store") and _sql_imports(path)}
    assert offenders == {}


PURE = ("returns", "rules", "alerts.lifecycle", "alerts.moves", "alerts.overdue", "alerts.events",
        "alerts.notify.route", "alerts.notify.group", "alerts.notify.filter", "alerts.notify.retry",
        "alerts.notify.wording", "alerts.notify.card", "alerts.digest.compose")
IO = {"sqlalchemy", "sqlmodel", "celery", "apprise", "smtplib", "requests", "redis", "workers", "config"}


def test_the_pure_core_does_no_io():
    modules = _modules()
    impure = {}
    for name, path in modules.items():
        if any(name == p or name.startswith(p + ".") for p in PURE):
            touched = (_third_party(path) | {m.split(".")[0] for m in _imports(path, modules)}) & IO
            if touched:
                impure[name] = sorted(touched)
    assert impure == {}
