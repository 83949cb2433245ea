"""The one check for a name a person typed (provider, team, worker, subscriber, user): no
character that breaks a line, a header or a terminal, or hides or reorders text. Pure.

Refused: Unicode categories Cc (C0 and C1 controls: CR, LF, VT, FF, ESC, NEL), Cf (bidi
overrides and isolates, zero-width space and joiners, BOM, soft hyphen), Zl and Zp (U+2028,
U+2029) and Cs (a lone surrogate, which cannot even be written as UTF-8).
"""

from __future__ import annotations

import unicodedata

_WHAT = {
    "Cc": "the control character",
    "Cf": "the invisible formatting character",
    "Zl": "the line separator",
    "Zp": "the paragraph separator",
    "Cs": "the lone surrogate",
}


def unsafe_character(text: str) -> str | None:
    """'character 3 is the control character U+001B' for the first refused character, else None."""
    for position, char in enumerate(text, start=1):
        what = _WHAT.get(unicodedata.category(char))
        if what is not None:
            return f"character {position} is {what} U+{ord(char):04X}"
    return None


def name_problem(name: str, what: str = "a name") -> str | None:
    """Why `name` cannot be used as `what` (e.g. 'a subscriber name'), else None."""
    where = unsafe_character(name)
    if where is not None:
        return f"{what} cannot hold control characters or invisible formatting ({where})"
    if name != name.strip():
        return f"{what} cannot start or end with spaces"
    return None
