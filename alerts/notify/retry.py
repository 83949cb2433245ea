"""Retry: how long to wait before the next attempt. Pure."""

from __future__ import annotations

import random


def backoff_seconds(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Wait after the `attempts`-th failure: exponential, capped, equal jitter in [d/2, d].
    Defaults (60 s base, 900 s cap, 8 attempts) spread the attempts over 30-60 minutes."""
    d = min(cap, base * 2 ** max(0, attempts - 1))
    return d / 2 + (rng or random).uniform(0, d / 2)
