"""Unsubscribe tokens: genuine ones verify; tampered, foreign-key and expired ones are refused."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.notify.unsubscribe import BadToken, make_token, unsubscribe_headers, verify_token

KEY = b"k" * 32
NOW = dt.datetime(2025, 3, 17, 7, 30, tzinfo=dt.UTC)


@given(st.integers(1, 10**9))
def test_round_trip(subscriber_id):
    claim = verify_token(KEY, make_token(KEY, subscriber_id, NOW), NOW)
    assert claim.subscriber_id == subscriber_id and claim.expires > NOW


@given(st.integers(0, 200), st.sampled_from("ABCxyz019-_"))
def test_any_tampered_character_is_refused(position, replacement):
    token = make_token(KEY, 42, NOW)
    i = position % len(token)
    if token[i] == replacement or token[i] == ".":
        return
    with pytest.raises(BadToken):
        verify_token(KEY, token[:i] + replacement + token[i + 1:], NOW)


def test_expired_wrong_key_and_garbage_are_refused():
    token = make_token(KEY, 42, NOW, dt.timedelta(days=1))
    with pytest.raises(BadToken, match="expired"):
        verify_token(KEY, token, NOW + dt.timedelta(days=1))
    with pytest.raises(BadToken, match="signature"):
        verify_token(b"other" * 8, token, NOW)
    for junk in ("", "abc", "a.b.c", "x.y"):
        with pytest.raises(BadToken):
            verify_token(KEY, junk, NOW)
    with pytest.raises(ValueError):
        make_token(b"", 1, NOW)


def test_headers_follow_rfc_8058():
    assert unsubscribe_headers("", "t") == {}
    assert unsubscribe_headers("https://alerts.example.org/", "abc.def") == {
        "List-Unsubscribe": "<https://alerts.example.org/unsubscribe?token=abc.def>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
