"""The web snapshot's fragment store (alerts/web/snapshot.py): rendered once per position,
the fragments of an older position dropped, and bounded in bytes."""

from __future__ import annotations

from alerts.web import snapshot
from alerts.web.snapshot import Snapshot


def test_a_fragment_is_rendered_once_per_position():
    snap, calls = Snapshot(), []

    def render() -> bytes:
        calls.append(1)
        return b"<p>board</p>"

    assert snap.fragment(("v1",), "board", render) == b"<p>board</p>"
    assert snap.fragment(("v1",), "board", render) == b"<p>board</p>"
    assert len(calls) == 1
    snap.fragment(("v2",), "board", render)  # a newer position: rendered again
    assert len(calls) == 2
    snap.fragment(("v2",), "board", render)
    assert len(calls) == 2


def test_fragments_are_bounded_in_bytes_least_recently_used_first(monkeypatch):
    monkeypatch.setattr(snapshot, "MAX_FRAGMENT_BYTES", 2500)
    snap = Snapshot()
    for name in ("a", "b", "c"):
        snap.fragment(("v",), name, lambda: b"x" * 1000)
    calls = []
    snap.fragment(("v",), "a", lambda: calls.append("a") or b"x" * 1000)  # "a" went first
    snap.fragment(("v",), "c", lambda: calls.append("c") or b"x" * 1000)  # "c" is still there
    assert calls == ["a"]
