"""The email that tells the performance team a return is held with queries (a return landed by
the API or the inbox folder: nobody saw its queries when it landed). Worded here, once; sent by
alerts/usecases/holds.py through the email channel. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.notify.wording import NOT_CONFIRMED
from alerts.templating import environment
from rules.vocabulary import kind_name, provider_name


@dataclass(frozen=True)
class HeldNotice:
    return_id: int
    provider: str
    kind: str
    periods: tuple[str, ...]
    file: str  # as it landed (its base name is shown)
    queries: tuple[str, ...]  # FILE:ROW:COLUMN: query: ... lines
    hold_hours: float
    base_url: str  # '' when KPI_ALERTS_BASE_URL is not set: no link, and the email says so
    via: str  # 'the API' | 'the inbox folder'

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/returns/{self.return_id}" if self.base_url else ""

    @property
    def subject(self) -> str:
        n = len(self.queries)
        return (f"[QUERY] {provider_name(self.provider)}: {kind_name(self.kind)} return for "
                f"{', '.join(self.periods)} held, {n} quer{'y' if n == 1 else 'ies'} to confirm")

    @property
    def name(self) -> str:
        return self.file.replace("\\", "/").rsplit("/", 1)[-1]


def hours(n: float) -> str:
    return f"{n:g} hour{'' if n == 1 else 's'}"


def text(notice: HeldNotice, recipient: str) -> str:
    lines = [f"Dear {recipient},", "",
             f"{provider_name(notice.provider)}'s {kind_name(notice.kind)} return for "
             f"{', '.join(notice.periods)} ({notice.name}, return {notice.return_id}, landed through {notice.via}) is "
             "held: it is stored, but nothing in it is rated and nobody else is told until someone confirms it or "
             "a corrected file replaces it.", "", "What looks wrong:", *(f"  {q}" for q in notice.queries), "",
             f"Unconfirmed after {hours(notice.hold_hours)}, it is released and its alerts go out marked "
             f"\"{NOT_CONFIRMED}\".", ""]
    if notice.url:
        lines.append(f"Confirm it, or upload a corrected file: {notice.url}")
    else:
        lines.append(f"KPI_ALERTS_BASE_URL is not set, so this email has no link: confirm it with `kpi-alerts "
                     f"returns confirm {notice.return_id} --by NAME`, or land a corrected file.")
    return "\n".join(lines) + "\n"


def html(notice: HeldNotice, recipient: str) -> str:
    return environment().get_template("held.html").render(
        n=notice, recipient=recipient, hold=hours(notice.hold_hours), not_confirmed=NOT_CONFIRMED,
        kind=kind_name(notice.kind), provider=provider_name(notice.provider))

