"""Read one rule pack file: YAML, safely, keeping line numbers for error messages."""

from __future__ import annotations

import os
import stat
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
# Budgets that keep every pack, however hostile, to milliseconds (a 1 KB "billion laughs" pack
# of nested aliases would otherwise expand to millions of values during validation).
MAX_ALIASES = 50  # uses of *name
MAX_VALUES = 10_000  # scalars and collections once aliases are expanded (the largest shipped pack: 1,400)
MAX_DEPTH = 50  # nested collections

_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class _PackLoader(_SAFE_LOADER):  # type: ignore[valid-type,misc]
    """The Safe loader, with a value it cannot construct (2024-13-01, `!!int x`, an integer of
    5,000 digits) reported at its line instead of escaping as a bare ValueError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.MarkedYAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            shown = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            detail = f": {exc}" if isinstance(exc, ValueError | OverflowError) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown[:40]!r} as {node.tag.rpartition(':')[2]}{detail}"[:200],
                node.start_mark) from None


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
    """The pack files of a folder (anything named *.yaml or *.yml: parse_pack_file refuses what
    is not a regular file), or `path` itself when it is not a folder."""
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        is_dir = False
    if not is_dir:
        return [path] if os.path.lexists(path) else []
    return sorted(p for p in path.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def _file_kind(mode: int) -> str | None:
    """None for a regular file, else what it is."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _NOT_REGULAR if test(mode)), "not a file")


def read_pack_bytes(path: Path) -> bytes | PackProblem:
    """The file's bytes, or the problem: never opens a FIFO or a device (which could block
    forever or never end), never reads more than MAX_PACK_BYTES."""
    name = str(path)
    try:
        kind = _file_kind(os.stat(path).st_mode)  # follows symlinks: a link to /dev/zero is a device
        if kind is not None:
            return PackProblem(name, 1, f"not a regular file ({kind})")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as f:
            kind = _file_kind(os.fstat(f.fileno()).st_mode)  # swapped for something else meanwhile
            if kind is not None:
                return PackProblem(name, 1, f"not a regular file ({kind})")
            raw = f.read(MAX_PACK_BYTES + 1)
    except OSError as exc:
        return PackProblem(name, 1, f"cannot read: {exc.strerror or type(exc).__name__}")
    if len(raw) > MAX_PACK_BYTES:
        return PackProblem(name, 1, f"pack larger than {MAX_PACK_BYTES} bytes")
    return raw


def _budget_problem(name: str, text: str) -> PackProblem | None:
    """Depth, alias uses and expanded size, from the parser's events (flat: no recursion), before
    anything is built. Returns the first budget exceeded, at its line."""
    expanded: dict[str, int] = {}  # anchor -> values it stands for
    open_: list[list[Any]] = []  # [anchor, values so far] per open collection
    total = aliases = 0
    for event in yaml.parse(text, Loader=_SAFE_LOADER):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.CollectionStartEvent):
            open_.append([event.anchor, 1])
            if len(open_) > MAX_DEPTH:
                return PackProblem(name, line, f"nested deeper than {MAX_DEPTH} levels")
            n = 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_.pop()
            if anchor is not None:
                expanded[anchor] = size
            if open_:
                open_[-1][1] += size
            continue
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                return PackProblem(name, line, f"more than {MAX_ALIASES} aliases (*name): write the values out")
            n = expanded.get(event.anchor, 1)  # an undefined or recursive alias: the composer says so
        elif isinstance(event, yaml.ScalarEvent):
            n = 1
            if event.anchor is not None:
                expanded[event.anchor] = 1
        else:
            continue
        total += n
        if open_ and not isinstance(event, yaml.CollectionStartEvent):
            open_[-1][1] += n
        if total > MAX_VALUES:
            what = "aliases expand to more than" if aliases else "more than"
            return PackProblem(name, line, f"{what} {MAX_VALUES} values: a pack is not that large")
    return None


def _duplicate_keys(name: str, root: yaml.Node) -> list[PackProblem]:
    """Every key given twice in one mapping, at any level (YAML would silently keep the last)."""
    out: list[PackProblem] = []
    todo, seen = [root], set()
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    line = key.start_mark.line + 1
                    sig = (key.tag, key.value)
                    if sig in first:
                        out.append(PackProblem(name, line, f"duplicate key {key.value[:40]!r} "
                                                           f"(first at line {first[sig]})"))
                    first.setdefault(sig, line)
                todo += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            todo += node.value
    return sorted(out, key=lambda p: p.line)


def parse_pack_file(path: Path) -> tuple[LoadedPack | None, list[PackProblem]]:
    name = str(path)
    raw = read_pack_bytes(path)
    if isinstance(raw, PackProblem):
        return None, [raw]
    try:
        text = raw.decode("utf-8")
        budget = _budget_problem(name, text)
        if budget is not None:
            return None, [budget]
        loader = _PackLoader(text)
        try:
            node = loader.get_single_node()  # tags like !!python/object are refused here
            duplicates = _duplicate_keys(name, node) if node is not None else []
            if duplicates:
                return None, duplicates
            data: Any = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except UnicodeDecodeError as exc:
        return None, [PackProblem(name, 1, f"not UTF-8 text ({exc.reason})")]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, [PackProblem(name, line, _one_line(f"invalid YAML: {exc.problem or exc}"))]
    except (yaml.YAMLError, RecursionError) as exc:
        return None, [PackProblem(name, 1, _one_line(f"invalid YAML: {type(exc).__name__}: {exc}"))]
    if not isinstance(data, dict):
        return None, [PackProblem(name, 1, "a pack is a YAML mapping with keys pack, title, rules, ...")]
    try:
        pack = Pack.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for p in loc)
            problems.append(PackProblem(name, line_of(node, loc), _one_line(f"{where}: {err['msg']}")))
        return None, problems
    return LoadedPack(path, pack, node), []


def _one_line(message: str) -> str:
    """A message fit for one `FILE:LINE: message` line: no line breaks, no control characters."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in " ".join(message.split()))[:300]
