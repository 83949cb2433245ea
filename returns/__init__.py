"""Parsing provider returns (KPI, finance, caseload; CSV, XLSX or JSON) into plain data.

    from returns import parse_return, ReturnRejected
    parsed = parse_return("sandwell-2024-05.csv", data, catalog)  # catalog: rules.catalog.Catalog
"""

from returns.errors import ReturnProblem, ReturnRejected
from returns.lookup import MeasureLike, MeasureLookup
from returns.model import Observation, ParsedReturn
from returns.parse import parse_return

__all__ = [
    "MeasureLike",
    "MeasureLookup",
    "Observation",
    "ParsedReturn",
    "ReturnProblem",
    "ReturnRejected",
    "parse_return",
]
