"""A restricted evaluator for derived measures: never `eval`.

Expressions are parsed with `ast.parse(mode="eval")` and walked against a whitelist:
numbers, names of measures or pack params, + - * / (unary and binary), comparisons,
and/or/not, and calls to min, max and abs (only called: `abs + x` is refused, a function is not
a value). Anything else (attribute access, subscripts,
other calls, strings, lambdas, comprehensions, `**`) is refused at load time, as is an
expression that is too long or too deep, so a hostile pack cannot exhaust CPU or memory.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

MAX_LENGTH = 500
MAX_DEPTH = 30
MAX_NODES = 200

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_FUNCTIONS = {"min": min, "max": max, "abs": abs}


class ExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class Expression:
    source: str
    tree: ast.expr
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, float]) -> float | None:
        """The value, or None when an input is missing or the arithmetic is undefined
        (division by zero, overflow): a derived measure is then simply not available."""
        return self.attempt(values)[0]

    def attempt(self, values: Mapping[str, float]) -> tuple[float | None, str | None]:
        """(value, None), (None, None) when an input is missing, or (None, why) when the
        arithmetic is undefined for these inputs. Never raises: a pack that passed
        `rules check` cannot crash an evaluation, whatever the return holds."""
        if any(values.get(n) is None for n in self.names):
            return None, None
        try:
            result = float(_eval(self.tree, values))
        except ZeroDivisionError:
            return None, f"{self.source}: division by zero"
        except OverflowError:
            return None, f"{self.source}: a number too large (overflow)"
        except (ArithmeticError, ValueError, TypeError, LookupError, RecursionError, MemoryError) as exc:
            return None, f"{self.source}: cannot be computed ({type(exc).__name__})"
        if not math.isfinite(result):
            return None, f"{self.source}: the result is not a finite number ({result})"
        return result, None


def _depth(node: ast.AST) -> int:
    children = list(ast.iter_child_nodes(node))
    return 1 + (max(map(_depth, children)) if children else 0)


@lru_cache(maxsize=1024)
def compile_expression(source: str) -> Expression:
    """Parse and validate; raises ExpressionError naming the offending construct."""
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"not a valid expression: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("expression nested too deeply") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ExpressionError(f"expression has more than {MAX_NODES} parts")
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError(f"expression nested deeper than {MAX_DEPTH}")
    names: set[str] = set()
    called = {id(node.func) for node in nodes if isinstance(node, ast.Call)}
    for node in nodes:
        _check(node)
        if isinstance(node, ast.Name) and node.id in _FUNCTIONS and id(node) not in called:
            raise ExpressionError(f"{node.id} is a function, not a value (expected {node.id}(...) with its arguments)")
        if isinstance(node, ast.Name) and node.id not in _FUNCTIONS:
            names.add(node.id)
    return Expression(source, tree, frozenset(names))


def _check(node: ast.AST) -> None:
    allowed = (
        ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call, ast.Name, ast.Constant, ast.Load,
        ast.And, ast.Or, *_BINARY, *_UNARY, *_COMPARE,
    )
    if not isinstance(node, allowed):
        raise ExpressionError(f"'{type(node).__name__}' is not allowed in an expression")
    if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, int | float)):
        raise ExpressionError(f"only numbers are allowed as constants, not {node.value!r}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
            raise ExpressionError("the only calls allowed are min(...), max(...) and abs(...)")
        wanted = 1 if node.func.id == "abs" else 2
        if len(node.args) < wanted or (node.func.id == "abs" and len(node.args) > 1):
            takes = "one argument" if wanted == 1 else "two or more arguments"
            raise ExpressionError(f"{node.func.id}() takes {takes}")
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        raise ExpressionError(f"name {node.id!r} is not allowed")


def _eval(node: ast.expr, values: Mapping[str, float]) -> float:
    match node:
        case ast.Constant(value=v):
            return v
        case ast.Name(id=name):
            return values[name]
        case ast.BinOp(left=l, op=op, right=r):
            return _BINARY[type(op)](_eval(l, values), _eval(r, values))
        case ast.UnaryOp(op=op, operand=o):
            return _UNARY[type(op)](_eval(o, values))
        case ast.BoolOp(op=ast.And(), values=vs):
            return all(_eval(v, values) for v in vs)
        case ast.BoolOp(op=ast.Or(), values=vs):
            return any(_eval(v, values) for v in vs)
        case ast.Compare(left=l, ops=ops, comparators=cs):
            left = _eval(l, values)
            for op, c in zip(ops, cs, strict=True):
                right = _eval(c, values)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        case ast.Call(func=ast.Name(id=fn), args=args):
            return _FUNCTIONS[fn](*(_eval(a, values) for a in args))
    raise ExpressionError(f"cannot evaluate {type(node).__name__}")  # unreachable after _check
