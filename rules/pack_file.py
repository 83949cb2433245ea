"""Read one rule pack file: YAML, safely, keeping line numbers for error messages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rules.model import Pack

# libyaml's parser when PyYAML was built with it (ten times faster: `rules check` starts quickly);
# safe either way, since only the Safe loaders are ever used.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_PACK_BYTES = 2_000_000


@dataclass(frozen=True)
class PackProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class LoadedPack:
    path: Path
    pack: Pack
    node: yaml.Node  # the composed YAML tree, to find the line of any path

    def line_of(self, *loc: str | int) -> int:
        return line_of(self.node, loc)


def line_of(node: yaml.Node | None, loc: tuple[str | int, ...]) -> int:
    """1-based line of the deepest node along `loc` (a pydantic error location)."""
    best = node.start_mark.line + 1 if node is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            break
        best = node.start_mark.line + 1
    return best


def pack_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def parse_pack_file(path: Path) -> tuple[LoadedPack | None, list[PackProblem]]:
    name = str(path)
    raw = path.read_bytes()
    if len(raw) > MAX_PACK_BYTES:
        return None, [PackProblem(name, 1, f"pack larger than {MAX_PACK_BYTES} bytes")]
    try:
        text = raw.decode("utf-8")
        node = yaml.compose(text, Loader=_SAFE_LOADER)  # tags like !!python/object are refused here
        data: Any = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a Safe loader is safe
    except UnicodeDecodeError as exc:
        return None, [PackProblem(name, 1, f"not UTF-8 text ({exc.reason})")]
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        return None, [PackProblem(name, line, f"invalid YAML: {exc.problem or exc}")]
    except (yaml.YAMLError, RecursionError) as exc:
        return None, [PackProblem(name, 1, f"invalid YAML: {type(exc).__name__}")]
    if not isinstance(data, dict):
        return None, [PackProblem(name, 1, "a pack is a YAML mapping with keys pack, title, rules, ...")]
    try:
        pack = Pack.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for p in loc)
            problems.append(PackProblem(name, line_of(node, loc), f"{where}: {err['msg']}"))
        return None, problems
    return LoadedPack(path, pack, node), []
