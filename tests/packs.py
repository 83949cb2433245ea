"""A small demo rule pack for the tests that need one of their own (one KPI, percent, the
contract's 85 / 70 bands); each test adds the lines it is about."""

from __future__ import annotations

_RULE = """\
  - id: demo_kpi
    name: Demo KPI
    kind: kpi
    unit: percent
    polarity: higher_is_better
{extra}    versions:
      - effective_from: {effective_from}
        bands:
          green: [{{gte: 85}}]
          amber: [{{gt: 70, lt: 85}}]
          red: [{{lte: 70}}]
"""


def demo_rule(extra: str = "", effective_from: str = "2024-04-01") -> str:
    """The rule as a YAML list item; `extra` holds whole lines inserted before `versions:`."""
    return _RULE.format(extra=extra, effective_from=effective_from)


def demo_pack(extra: str = "", effective_from: str = "2024-04-01") -> str:
    return "pack: demo\ntitle: Demo\nrules:\n" + demo_rule(extra, effective_from)
