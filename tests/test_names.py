"""Names a person typed (provider, team, worker, subscriber, user) hold no character that
breaks a line, a header or a terminal, or hides or reorders text: one check, returns.names."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from alerts.usecases.subscriptions import SubscriberSpec
from returns import ReturnRejected, parse_return
from returns.names import name_problem, unsafe_character
from rules.loader import SHIPPED_PACKS, load_catalog

REFUSED = {"Cc", "Cf", "Zl", "Zp", "Cs"}
# The list: CR, LF, VT, FF, NEL, U+2028/2029, bidi overrides and isolates, zero-width
HOSTILE = ["\r", "\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\u202e", "\u202d", "\u2066", "\u200b", "\ufeff"]
CASELOAD = "provider,period,team,service,worker,asye,caseload\n"


@given(st.text(min_size=1))
def test_a_name_is_refused_exactly_when_it_holds_a_refused_character(text):
    bad = [c for c in text if unicodedata.category(c) in REFUSED]
    found = unsafe_character(text)
    if bad:
        assert found is not None and f"U+{ord(bad[0]):04X}" in found
    else:
        assert found is None


SAFE = st.characters(blacklist_categories=("Cc", "Cf", "Zl", "Zp", "Cs"))


@given(st.text(SAFE, min_size=1), st.sampled_from(HOSTILE), st.integers(0, 50))
def test_any_hostile_character_anywhere_is_refused_and_located(name, char, at):
    at = min(at, len(name))
    problem = name_problem(name[:at] + char + name[at:], "a subscriber name")
    assert problem is not None and f"(character {at + 1} is " in problem


@pytest.mark.parametrize("char", HOSTILE)
def test_subscriber_names_with_them_are_refused(char):
    with pytest.raises(ValidationError, match="cannot hold control characters"):
        SubscriberSpec(name=f"Ann{char}Lee", email="ann@example.org")


@pytest.mark.parametrize("char", HOSTILE)
@pytest.mark.parametrize("column", ["team", "worker"])
def test_caseload_names_with_them_are_refused_located(char, column):
    team, worker = ("Team" + char + "A", "Ann") if column == "team" else ("Team A", "An" + char + "n")
    row = f'sandwell,2025-03,"{team}",care_leavers,"{worker}",no,12\n'
    with pytest.raises(ReturnRejected) as e:
        parse_return("c.csv", (CASELOAD + row).encode(), load_catalog(SHIPPED_PACKS))
    [found] = [str(p) for p in e.value.problems]
    assert found.startswith(f"c.csv:2:{column}: expected ")
    assert f"U+{ord(char):04X})" in found


def test_names_in_every_script_are_still_accepted():
    for name in ("Zoë Ó Briain", "Łukasz", "Ахмед", "محمد", "李小龙", "O'Neil-Smith", "Ann Lee (agency)"):
        assert name_problem(name) is None, name


def test_users_add_refuses_a_name_with_a_line_break(cli):
    ran = cli("users", "add", "a@example.org", "--name", "a\r\nBcc: x")
    assert ran.returncode != 0
    assert "a user's name cannot hold control characters or invisible formatting (character 2 is the control " \
           "character U+000D)" in ran.stderr
    listed = cli("users", "list")
    assert "a@example.org" not in listed.stdout
    assert cli("users", "add", "a@example.org", "--name", "Ann Lee").returncode == 0

