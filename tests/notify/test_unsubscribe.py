"""Unsubscribe tokens: genuine ones verify, whenever; tampered and foreign-key ones are refused;
the earlier expiring format is taken as version 0."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from alerts.notify.unsubscribe import BadToken, make_token, unsubscribe_headers, verify_token

KEY = b"k" * 32


@given(st.integers(1, 10**9), st.integers(0, 10**6))
def test_round_trip(subscriber_id, version):
    claim = verify_token(KEY, make_token(KEY, subscriber_id, version))
    assert (claim.subscriber_id, claim.version) == (subscriber_id, version)


@given(st.integers(0, 200), st.sampled_from("ABCxyz019-_"))
def test_any_tampered_character_is_refused(position, replacement):
    token = make_token(KEY, 42, 0)
    i = position % len(token)
    if token[i] == replacement or token[i] == ".":
        return
    with pytest.raises(BadToken):
        verify_token(KEY, token[:i] + replacement + token[i + 1:])


def test_wrong_key_and_garbage_are_refused():
    token = make_token(KEY, 42, 0)
    with pytest.raises(BadToken, match="signature"):
        verify_token(b"other" * 8, token)
    for junk in ("", "abc", "a.b.c", "x.y"):
        with pytest.raises(BadToken):
            verify_token(KEY, junk)
    with pytest.raises(ValueError):
        make_token(b"", 1, 0)
    signer = URLSafeSerializer(KEY, salt="kpi-alerts/unsubscribe/v2", signer_kwargs={"digest_method": hashlib.sha256})
    for payload in ({"s": 1}, {"s": "x", "v": 0}, [1, 2], "s"):  # signed, but not a claim
        with pytest.raises(BadToken, match="malformed"):
            verify_token(KEY, signer.dumps(payload))


def test_a_token_of_the_expiring_format_long_expired_is_version_0():
    """Emails sent before links stopped expiring carry {"s": id, "e": expiry}: still genuine."""
    signer = URLSafeSerializer(KEY, salt="kpi-alerts/unsubscribe/v2", signer_kwargs={"digest_method": hashlib.sha256})
    claim = verify_token(KEY, signer.dumps({"s": 42, "e": 1_000_000_000}))  # September 2001
    assert (claim.subscriber_id, claim.version) == (42, 0)


def test_headers_follow_rfc_8058():
    assert unsubscribe_headers("", "t") == {}
    assert unsubscribe_headers("https://alerts.example.org/", "abc.def") == {
        "List-Unsubscribe": "<https://alerts.example.org/unsubscribe?token=abc.def>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
