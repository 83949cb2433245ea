"""The position as it stands now (the digest's read model, `load_week` up to this moment),
loaded once and kept while the database holds nothing newer and the day is the same (missing
returns depend on the date): the status board of a national install reads five years of
ratings, and every request after the first is served from here."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

from sqlmodel import Session

from alerts.digest.compose import WeekData
from alerts.digest.load import load_week
from alerts.digest.weeks import upcoming_week
from alerts.store.digests import data_version
from rules.catalog import Catalog


class Snapshot:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._value: WeekData | None = None

    def get(self, session: Session, catalog: Catalog, timezone: str, now: dt.datetime) -> WeekData:
        key = (str(session.get_bind().url), id(catalog), timezone, now.astimezone(ZoneInfo(timezone)).date(),
               data_version(session))
        with self._lock:  # one load at a time: twenty clients at once wait for one, not run twenty
            if self._value is None or key != self._key:
                self._value, self._key = load_week(session, catalog, upcoming_week(now, timezone), timezone, now), key
            return self._value
