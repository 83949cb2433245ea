"""The restricted evaluator: arithmetic, comparisons, min/max/abs; nothing else."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.expressions import ExpressionError, compile_expression


def test_rate_per_10000():
    e = compile_expression("children_on_cp_plan / population_under_18 * 10000")
    assert e.names == {"children_on_cp_plan", "population_under_18"}
    assert round(e.evaluate({"children_on_cp_plan": 353, "population_under_18": 86835}), 2) == 40.65


def test_missing_input_or_division_by_zero_is_not_available():
    e = compile_expression("a / b")
    assert e.evaluate({"a": 1}) is None
    assert e.evaluate({"a": 1, "b": None}) is None
    assert e.evaluate({"a": 1, "b": 0}) is None


def test_functions_and_comparisons():
    assert compile_expression("max(a, b) - min(a, b) + abs(-c)").evaluate({"a": 3, "b": 7, "c": 2}) == 6
    assert compile_expression("a > b and b >= 1").evaluate({"a": 2, "b": 1}) == 1.0
    assert compile_expression("1 < a < 3").evaluate({"a": 5}) == 0.0


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("__import__('os').getcwd()", "only calls allowed"),
        ("a.__class__", "'Attribute' is not allowed"),
        ("a[0]", "'Subscript' is not allowed"),
        ("9 ** 9 ** 9", "'Pow' is not allowed"),
        ("'a' * 1000000000", "only numbers are allowed"),
        ("[x for x in a]", "'ListComp' is not allowed"),
        ("lambda: 1", "'Lambda' is not allowed"),
        ("open('x')", "only calls allowed"),
        ("min(a)", "two or more arguments"),
        ("abs(a, b)", "one argument"),
        ("_secret + 1", "name '_secret' is not allowed"),
        ("a +", "not a valid expression"),
        ("(" * 1000 + "1" + ")" * 1000, "longer than"),
        ("-" * 60 + "1", "nested deeper than"),
        ("+".join(["a"] * 150), "more than 200 parts"),
        ("True + 1", "only numbers are allowed"),
    ],
)
def test_hostile_expressions_are_refused_quickly(source, message):
    start = time.monotonic()
    with pytest.raises(ExpressionError, match=message):
        compile_expression(source)
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize(
    "payload",
    [
        "__import__('pathlib').Path({path!r}).touch()",
        "open({path!r}, 'w')",
        "__import__('os').system('touch ' + {path!r})",
        "(lambda: open({path!r}, 'w'))()",
        "().__class__.__base__ and open({path!r}, 'w')",
    ],
)
def test_code_in_an_expression_is_refused_and_never_run(payload, tmp_path):
    sentinel = tmp_path / "pwned"
    source = payload.format(path=str(sentinel))
    eval(source, {})  # noqa: S307  the payload is live: plain eval writes the sentinel
    assert sentinel.exists()
    sentinel.unlink()
    with pytest.raises(ExpressionError):
        compile_expression(source).evaluate({})
    assert not sentinel.exists()


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.floats(1, 1e6))
def test_arithmetic_matches_python(a, b, c):
    got = compile_expression("(a + b) * 2 - a / c").evaluate({"a": a, "b": b, "c": c})
    assert got == pytest.approx((a + b) * 2 - a / c, rel=1e-12, abs=1e-9)


# -- a function is not a value: what passes `rules check` never crashes an evaluation (issue 18) --------------

@pytest.mark.parametrize("source", ["abs + x", "min * 2 + x", "max", "x + min", "-abs", "max < x", "x and abs"])
def test_a_function_used_as_a_value_is_refused(source):
    name = next(f for f in ("abs", "min", "max") if f in source)
    with pytest.raises(ExpressionError, match=f"^{name} is a function, not a value"):
        compile_expression(source)


def test_a_pack_with_a_function_as_a_value_fails_rules_check(tmp_path):
    from rules.check import check_packs

    (tmp_path / "demo.yaml").write_text(
        "pack: demo\ntitle: Demo\ninputs:\n  - {key: x, name: X, kind: kpi, unit: count}\nderived:\n"
        "  - {key: y, name: Y, kind: kpi, unit: number, expr: \"abs + x\"}\n")
    _, found = check_packs(tmp_path)
    assert [str(p) for p in found] == [f"{tmp_path / 'demo.yaml'}:6: derived y: abs is a function, not a value "
                                       "(expected abs(...) with its arguments)"]


NUMBER = st.one_of(st.integers(-10**30, 10**30).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
                   st.sampled_from(["0", "0.0", "1e308", "1e-308"]))
LEAF = st.one_of(NUMBER, st.sampled_from(["a", "b", "min", "max", "abs"]))


def _grow(inner):
    return st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "<", "<=", "==", "!=", " and ", " or "]), inner).map(
            lambda t: f"({t[0]}{t[1]}{t[2]})"),
        st.tuples(st.sampled_from(["-", "+", "not "]), inner).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(st.sampled_from(["min", "max", "abs"]), st.lists(inner, min_size=0, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
    )


EXPRESSIONS = st.recursive(LEAF, _grow, max_leaves=12)
INPUTS = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**400, 10**400)


@given(EXPRESSIONS, INPUTS, INPUTS)
def test_an_expression_that_compiles_never_raises_when_evaluated(source, a, b):
    try:
        expr = compile_expression(source)
    except ExpressionError:
        return
    value, why = expr.attempt({"a": a, "b": b})
    assert (value is None) or isinstance(value, float)
    assert why is None or why.startswith(source)
