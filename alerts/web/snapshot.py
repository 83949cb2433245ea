"""The position as it stands now (the digest's read model, `load_week` up to this moment) and
the page fragments rendered from it, kept while the database holds nothing newer and the day
is the same (missing returns depend on the date). A national install's board reads five years
of ratings (seconds); every request after the first is served from here.

- Freshness: `quick_version` (primary-key lookups) at most every VERSION_SECONDS, and at once
  after any write through this process (`expire`, called by the app after every POST, PUT,
  PATCH or DELETE: whoever uploads or acknowledges sees it on the next page); every
  FULL_CHECK_SECONDS the full `data_version` too, which also catches a late commit of a lower
  id. So a change made by another process (a worker) shows within VERSION_SECONDS.
- After a change the first request loads the new position and waits for it (whoever uploaded
  sees their return); requests meanwhile get the previous position rather than queueing.
- Fragments (a page's main content for given filters) live as long as their position; at most
  MAX_FRAGMENT_BYTES of them (a national board is 850 KB), the least recently used dropped first.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerts.digest.compose import WeekData
from alerts.digest.load import load_week
from alerts.digest.weeks import upcoming_week
from alerts.store.digests import data_version, quick_version
from rules.catalog import Catalog

FULL_CHECK_SECONDS = 30.0
VERSION_SECONDS = 1.0
T = TypeVar("T")
MAX_FRAGMENT_BYTES = 64 * 1024 * 1024


def _size(value: object) -> int:
    parts = value if isinstance(value, tuple) else (value,)
    return sum(len(p) for p in parts if isinstance(p, bytes | str))


class Snapshot:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the fields below
        self._load_lock = threading.Lock()  # one load at a time
        self._key: tuple | None = None
        self._value: WeekData | None = None
        self._fragments: OrderedDict[Hashable, Any] = OrderedDict()
        self._fragments_of: tuple | None = None  # the key the fragments were rendered at
        self._bytes = 0
        self._full: tuple = ()
        self._full_at = -FULL_CHECK_SECONDS
        self._quick: tuple = ()
        self._quick_at = -VERSION_SECONDS

    def expire(self) -> None:
        """Something was written: the next request reads the version again."""
        self._quick_at = -VERSION_SECONDS

    def _version(self, session: Session) -> tuple:
        now = time.monotonic()
        if now - self._full_at >= FULL_CHECK_SECONDS:
            self._full, self._full_at = data_version(session), now
        if now - self._quick_at >= VERSION_SECONDS:
            self._quick, self._quick_at = quick_version(session), now
        return (*self._quick, self._full)

    def key(self, session: Session, catalog: Catalog, timezone: str, now: dt.datetime) -> tuple:
        return self._key_of(str(session.get_bind().url), catalog, timezone, now, self._version(session))

    @staticmethod
    def _key_of(url: str, catalog: Catalog, timezone: str, now: dt.datetime, version: tuple) -> tuple:
        return (url, id(catalog), timezone, now.astimezone(ZoneInfo(timezone)).date(), version)

    def cached(self, url: str, catalog: Catalog, timezone: str, now: dt.datetime, name: Hashable) -> Any:
        """The fragment `name`, when the version is recent enough to need no database read and
        the fragment is rendered already; None otherwise (then `key` or `get`, and `fragment`).
        The fast path: no thread, no database, for every request but about one a second."""
        at = time.monotonic()
        if at - self._quick_at >= VERSION_SECONDS or at - self._full_at >= FULL_CHECK_SECONDS:
            return None
        key = self._key_of(url, catalog, timezone, now, (*self._quick, self._full))
        with self._lock:
            return self._fragments.get((key, name))

    def get(self, session: Session, catalog: Catalog, timezone: str, now: dt.datetime) -> tuple[WeekData, tuple]:
        """The position and its key (the key names the fragments rendered from it)."""
        key = self.key(session, catalog, timezone, now)
        with self._lock:
            if self._value is not None and (key == self._key or self._load_lock.locked()):
                return self._value, self._key  # type: ignore[return-value]  # current, or the previous while loading
        with self._load_lock:
            with self._lock:
                if self._value is not None and key == self._key:
                    return self._value, key
            value = load_week(session, catalog, upcoming_week(now, timezone), timezone, now)
            with self._lock:
                self._value, self._key = value, key
            return value, key

    def fragment(self, key: tuple, name: Hashable, render: Callable[[], T]) -> T:
        """The fragment `name` at `key` (from `get` or `key`), rendered once."""
        with self._lock:
            found = self._fragments.get((key, name))
            if found is not None:
                self._fragments.move_to_end((key, name))
                return found
        html = render()
        with self._lock:
            if key != self._fragments_of:  # a newer position: the fragments of the last go
                self._fragments.clear()
                self._fragments_of, self._bytes = key, 0
            if (key, name) not in self._fragments:
                self._fragments[(key, name)] = html
                self._bytes += _size(html)
            while self._bytes > MAX_FRAGMENT_BYTES and len(self._fragments) > 1:
                self._bytes -= _size(self._fragments.popitem(last=False)[1])
        return html
