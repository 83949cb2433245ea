"""The inbox folder (KPI_ALERTS_INBOX_DIR): returns dropped on a shared drive or an SFTP drop.

A scan takes every file that has stopped changing, claims it, lands it through the same
intake as every other way in (alerts/usecases/intake.py), and moves it on:

    INBOX/NAME  --os.rename-->  INBOX/processing/TOKEN--NAME  -->  INBOX/done/NAME
                                                              -->  INBOX/done/NAME + NAME.queries.txt
                                                              -->  INBOX/rejected/NAME + NAME.errors.txt

- **Stable**: a file is taken once two looks at least `settle_seconds` apart find the same size
  and modification time (`is_stable`). A scan's looks are kept in `INBOX/.kpi-alerts-inbox.json`
  for the next scan (beat's scans, every KPI_ALERTS_INBOX_SCAN_SECONDS, are each other's second
  look); a one-off scan (`kpi-alerts inbox scan`, cron) that finds a file it has not seen settle
  looks again itself after `settle_seconds`. A file still changing then is left for the next scan.
- **Claimed atomically**: `os.rename` into `processing/` under a name of the scanner's own; the
  rename of one directory entry succeeds once, so two scanners never land a file twice (the
  loser's rename finds no file). A claim left behind by a scanner that died is taken again after
  STALE_CLAIM_SECONDS (landing is idempotent: the same bytes are a duplicate, or evaluated then).
- **Never overwritten**: a name already in `done/` or `rejected/` gets a UTC timestamp suffix
  (`kpi-2025-03-20260218T090000Z.csv`), then a counter.
- **Held**: a file with queries is landed held (stored, nothing rated, nobody told but the
  performance team, by email) and goes to done/ with its queries beside it in NAME.queries.txt;
  it is confirmed in the web app (or `kpi-alerts returns confirm`), or a corrected file dropped
  in the inbox supersedes it.
- **Ignored**: dotfiles (the state file among them), partial uploads (`.part`, `.partial`,
  `.tmp`, `.filepart`, `.crdownload`, `~`), and anything that is not a regular file (subfolders).

The decisions (`is_candidate`, `is_stable`, `next_look`, `candidate_names`, `original_name`) are
pure; the rest is filesystem I/O at the edge.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from alerts.usecases.ingest import ReturnLimits
from alerts.usecases.intake import Duplicate, Held, IntakeResult, LandedEvaluated, LandedPending, Rejected

log = logging.getLogger(__name__)

STATE_FILE = ".kpi-alerts-inbox.json"
PROCESSING, DONE, REJECTED = "processing", "done", "rejected"
ERRORS_SUFFIX = ".errors.txt"
QUERIES_SUFFIX = ".queries.txt"
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".filepart", ".crdownload", "~")
STALE_CLAIM_SECONDS = 900.0  # a claim this old (its scanner died) is taken again
_SEP = "--"  # processing/TOKEN--NAME: the token has no "--"

# Land one file: (the name it was dropped as, its bytes) -> what the intake made of it (Intake.land)
Land = Callable[[str, bytes], IntakeResult]


@dataclass(frozen=True)
class Look:
    """What one look at a file saw, and when (wall clock, seconds)."""

    size: int
    mtime_ns: int
    seen_at: float
    inode: int = 0


@dataclass(frozen=True)
class InboxOutcome:
    name: str  # as dropped in the inbox
    status: str  # accepted | restated | duplicate | held | rejected | waiting | failed
    moved_to: str | None = None  # relative to the inbox: done/NAME, rejected/NAME
    detail: str = ""  # one line: what landed, how many problems, why not yet
    errors: tuple[str, ...] = ()
    result: IntakeResult | None = None

    @property
    def line(self) -> str:
        """One line for the command line: 'NAME: accepted return 7 (...) -> done/NAME'."""
        to = f" -> {self.moved_to}" if self.moved_to else ""
        return f"{self.name}: {self.detail}{to}"


# --- pure decisions ------------------------------------------------------------------------


def is_candidate(name: str) -> bool:
    """A name the inbox takes: not a dotfile (the state file, editors' and uploaders' temporary
    files) and not a partial upload."""
    return bool(name) and not name.startswith(".") and not name.endswith(PARTIAL_SUFFIXES)


def is_stable(previous: Look | None, current: Look, settle_seconds: float) -> bool:
    """Size and modification time unchanged between two looks at least `settle_seconds` apart."""
    if previous is None:
        return False
    return (previous.size == current.size and previous.mtime_ns == current.mtime_ns
            and previous.inode == current.inode and current.seen_at - previous.seen_at >= settle_seconds)


def next_look(previous: Look | None, current: Look) -> Look:
    """The look to keep for the next scan: the earliest one that still matches the file (so the
    time it has been unchanged grows), or the current one when the file changed."""
    if previous is not None and (previous.size, previous.mtime_ns, previous.inode) == (
            current.size, current.mtime_ns, current.inode):
        return previous
    return current


def candidate_names(name: str, stamp: str) -> Iterator[str]:
    """NAME, then NAME with the timestamp before its suffix, then with a counter as well."""
    yield name
    stem, dot, suffix = name.rpartition(".")
    if not stem:  # no suffix (or a name like '.x', never a candidate)
        stem, dot, suffix = name, "", ""
    for n in range(1, 10_000):
        yield f"{stem}-{stamp}{'' if n == 1 else f'-{n}'}{dot}{suffix}"
    raise FileExistsError(f"no free name for {name}")


def original_name(claimed: str) -> str:
    """processing/TOKEN--NAME -> NAME."""
    return claimed.split(_SEP, 1)[1] if _SEP in claimed else claimed


def stamp_of(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


# --- the filesystem ------------------------------------------------------------------------


def _looks(inbox: Path, now: float) -> dict[str, Look]:
    out = {}
    with os.scandir(inbox) as entries:
        for e in entries:
            if not is_candidate(e.name):
                continue
            try:
                if not e.is_file(follow_symlinks=False):
                    continue
                st = e.stat(follow_symlinks=False)
            except OSError:  # gone meanwhile
                continue
            out[e.name] = Look(st.st_size, st.st_mtime_ns, now, st.st_ino)
    return out


def _read_state(inbox: Path) -> dict[str, Look]:
    try:
        raw = json.loads((inbox / STATE_FILE).read_text(encoding="utf-8"))
        return {name: Look(**look) for name, look in raw.items()}
    except (OSError, ValueError, TypeError, AttributeError):  # none yet, or unreadable: start afresh
        return {}


def _write_state(inbox: Path, looks: Mapping[str, Look]) -> None:
    """Atomically (a temporary dotfile, then os.replace); a concurrent scanner's write may win,
    which only delays a file by one scan."""
    tmp = inbox / f"{STATE_FILE}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_text(json.dumps({n: asdict(lk) for n, lk in sorted(looks.items())}), encoding="utf-8")
        os.replace(tmp, inbox / STATE_FILE)
    except OSError:
        log.warning("cannot write the inbox state file in %s", inbox, exc_info=True)
        with contextlib.suppress(OSError):
            tmp.unlink()


def _claim(inbox: Path, name: str, look: Look) -> Path | None:
    """Rename INBOX/NAME into processing/ under this scanner's own name; None when another
    scanner took it first (or a different file of the same name has appeared since the look)."""
    target = inbox / PROCESSING / f"{os.getpid()}-{uuid.uuid4().hex[:12]}{_SEP}{name}"
    try:
        os.rename(inbox / name, target)
    except FileNotFoundError:
        return None
    st = target.stat()
    if (st.st_size, st.st_mtime_ns, st.st_ino) != (look.size, look.mtime_ns, look.inode):
        _release(target, inbox, name)  # not the file this scanner saw settle: put it back untouched
        return None
    return target


def _reclaim(claimed: Path) -> Path | None:
    target = claimed.with_name(f"{os.getpid()}-{uuid.uuid4().hex[:12]}{_SEP}{original_name(claimed.name)}")
    try:
        os.rename(claimed, target)
    except FileNotFoundError:
        return None
    return target


def _stale_claims(inbox: Path, now: float) -> list[Path]:
    out = []
    with os.scandir(inbox / PROCESSING) as entries:
        for e in entries:
            try:  # a rename sets ctime: it is when the file was claimed
                if e.is_file(follow_symlinks=False) and now - e.stat().st_ctime >= STALE_CLAIM_SECONDS:
                    out.append(Path(e.path))
            except OSError:
                continue
    return sorted(out)


def _place(src: Path, directory: Path, name: str, stamp: str, companion: str = "") -> Path:
    """Move `src` into `directory` as NAME, or a free timestamped variant: never overwriting."""
    for candidate in candidate_names(name, stamp):
        dest = directory / candidate
        if companion and (directory / f"{candidate}{companion}").exists():
            continue
        try:
            os.link(src, dest)  # fails if dest exists: no overwrite, whoever else is placing files
        except FileExistsError:
            continue
        except OSError:  # a filesystem without hard links: check, then rename
            if dest.exists():
                continue
            os.rename(src, dest)
            return dest
        os.unlink(src)
        return dest
    raise AssertionError("unreachable")


def _release(claimed: Path, inbox: Path, name: str) -> bool:
    """Give a claimed file back to the inbox (for the next scan) unless the name is taken."""
    try:
        os.link(claimed, inbox / name)
    except FileExistsError:
        return False
    except OSError:
        return False
    os.unlink(claimed)
    return True


def _land_one(inbox: Path, claimed: Path, land: Land, limits: ReturnLimits, stamp: str) -> InboxOutcome:
    name = original_name(claimed.name)
    try:
        with claimed.open("rb") as f:
            too_large = limits.too_large(name, os.fstat(f.fileno()).st_size)
            result = Rejected(name, (too_large,)) if too_large else land(name, f.read(limits.max_bytes + 1))
    except Exception as exc:  # the database is down, say: the file goes back for the next scan
        log.warning("inbox: %s not landed (%s); it is left for the next scan", name, type(exc).__name__,
                    exc_info=True)
        back = _release(claimed, inbox, name)
        reason = (str(exc).splitlines() or [""])[0][:200]
        where = "left in the inbox for the next scan" if back else f"kept as {PROCESSING}/{claimed.name}"
        return InboxOutcome(name, "failed", None, f"not landed ({type(exc).__name__}: {reason}); {where}")
    match result:
        case Rejected(errors=errors):
            dest = _place(claimed, inbox / REJECTED, name, stamp, companion=ERRORS_SUFFIX)
            listed = dest.with_name(dest.name + ERRORS_SUFFIX)
            with listed.open("x", encoding="utf-8") as f:
                f.write("".join(f"{line}\n" for line in errors))
            n = len(errors)
            return InboxOutcome(name, "rejected", f"{REJECTED}/{dest.name}",
                                f"rejected, {n} problem line{'s' if n != 1 else ''} in {REJECTED}/{listed.name}",
                                errors, result)
        case Held(landed=landed, queries=queries):
            dest = _place(claimed, inbox / DONE, name, stamp, companion=QUERIES_SUFFIX)
            listed = dest.with_name(dest.name + QUERIES_SUFFIX)
            with listed.open("x", encoding="utf-8") as f:
                f.write("".join(f"{line}\n" for line in queries))
            n = len(queries)
            return InboxOutcome(name, "held", f"{DONE}/{dest.name}",
                                f"held return {landed.return_id}, {n} quer{'y' if n == 1 else 'ies'} to confirm in "
                                f"{DONE}/{listed.name}", queries, result)
        case LandedPending(reason="failed", detail=why):
            after = f"; evaluation pending ({why})"
        case LandedPending() | Duplicate(evaluated=False):
            after = "; evaluation queued"
        case LandedEvaluated() | Duplicate():
            after = ""
    dest = _place(claimed, inbox / DONE, name, stamp)
    landed = result.landed
    periods = ", ".join(landed.periods)
    detail = f"{landed.status} return {landed.return_id} ({landed.kind}, {landed.provider}, {periods}){after}"
    return InboxOutcome(name, landed.status, f"{DONE}/{dest.name}", detail, result=result)


def scan_inbox(inbox: Path, land: Land, *, limits: ReturnLimits, settle_seconds: float = 5.0, wait: bool = False,
               clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep
               ) -> list[InboxOutcome]:
    """One scan: land every settled file, in name order; report the ones left for later.
    `wait`: look again after `settle_seconds` at files not yet seen settle (a one-off scan)."""
    for sub in (PROCESSING, DONE, REJECTED):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    state = _read_state(inbox)
    now = clock()
    looks = _looks(inbox, now)
    kept = {n: next_look(state.get(n), lk) for n, lk in looks.items()}
    ready = {n: lk for n, lk in looks.items() if is_stable(state.get(n), lk, settle_seconds)}
    if wait and len(ready) < len(looks):
        sleep(max(0.0, settle_seconds - min(now - kept[n].seen_at for n in looks if n not in ready)))
        again = _looks(inbox, clock())
        for n, lk in again.items():
            if n not in ready and n in kept and is_stable(kept[n], lk, settle_seconds):
                ready[n] = lk
        kept = {n: next_look(kept.get(n), lk) for n, lk in again.items()}
    _write_state(inbox, {n: lk for n, lk in kept.items() if n not in ready})
    stamp = stamp_of(clock())
    out = []
    for claimed in _stale_claims(inbox, clock()):
        mine = _reclaim(claimed)
        if mine is not None:
            out.append(_land_one(inbox, mine, land, limits, stamp))
    for name in sorted(ready):
        claimed = _claim(inbox, name, ready[name])
        if claimed is not None:
            out.append(_land_one(inbox, claimed, land, limits, stamp))
    waiting = sorted(n for n in kept if n not in ready)
    out += [InboxOutcome(n, "waiting", None, f"not taken yet: still changing (taken once unchanged for "
                                             f"{settle_seconds:g} s)") for n in waiting]
    return out
