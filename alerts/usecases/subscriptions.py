"""Subscribers and their subscriptions: imperative (CLI) and declarative (a YAML file kept
in version control; `apply` makes the stored set equal to it, idempotently, but for what a
person chose on the web page that the file does not name). A one-click unsubscribe suppresses
the subscriber until the person follows something again themselves (issue 17)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from sqlmodel import Session

from alerts.notify.route import ALL_TRANSITIONS
from alerts.store import subscriptions as store
from returns.names import name_problem
from rules.catalog import Catalog


class SubscriptionError(ValueError):
    pass


class Suppressed(SubscriptionError):
    """The subscriber (or their address) unsubscribed with the one-click link: nothing is added
    for them until they follow something again themselves in the web app."""

    def __init__(self, name: str, since: dt.datetime):
        super().__init__(f"{name!r} unsubscribed with the one-click link: only they can subscribe again, "
                         "by following something in the web app")
        self.name, self.since = name, since


class LinkRefused(ValueError):
    """A genuine unsubscribe link that no longer works: revoked, or its subscriber is gone."""


class SubscriptionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    indicators: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    providers: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    transitions: list[str] = Field(default_factory=list)
    min_severity: Literal["amber", "red"] = "amber"
    delivery: Literal["immediate", "digest", "both"] = "immediate"

    @field_validator("transitions")
    @classmethod
    def _known_transitions(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - ALL_TRANSITIONS)
        if unknown:
            raise ValueError(f"unknown transition(s) {unknown}; expected some of {sorted(ALL_TRANSITIONS)}")
        return v

    def row_values(self) -> dict:
        """The stored columns (lists sorted, so `apply` compares like with like)."""
        return {"indicators": sorted(self.indicators), "tags": sorted(self.tags), "providers": sorted(self.providers),
                "teams": sorted(self.teams), "transitions": sorted(self.transitions),
                "min_severity": self.min_severity, "delivery": self.delivery}


class SubscriberSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    teams: str | None = None
    empty_digest: bool = True  # False: no "all steady" digest in a quiet week
    digest_cadence: Literal["weekly", "monthly"] = "weekly"  # monthly: the first digest day of each month
    allow_unknown: bool | None = None  # providers and teams no return has named yet (None: the file's)
    subscriptions: list[SubscriptionSpec] = Field(default_factory=lambda: [SubscriptionSpec()])

    @field_validator("name")
    @classmethod
    def _printable_name(cls, v: str) -> str:
        """The name goes into email headers and listings: no CR, LF, ESC or other control or
        invisible characters (a CR/LF made every digest to that subscriber fail)."""
        problem = name_problem(v, "a subscriber name")
        if problem is not None:
            raise ValueError(problem)
        return v

    @field_validator("email", "teams")
    @classmethod
    def _address(cls, v: str | None, info: ValidationInfo) -> str | None:
        """Each channel parses its own addresses: subscribing accepts exactly what it can send to."""
        from alerts.notify.channels import CHANNELS

        return None if v is None else CHANNELS[info.field_name].parse_address(v)  # AddressError is a ValueError


class SubscriptionsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allow_unknown: bool = False  # every subscriber may name providers and teams no return has named yet
    subscribers: list[SubscriberSpec] = Field(default_factory=list)


def check_spec(catalog: Catalog, spec: SubscriptionSpec) -> None:
    known = {b.id for b in catalog.rules} | {b.rule.measure_key for b in catalog.rules} | {
        b.code.upper() for b in catalog.rules if b.code}
    unknown = [i for i in spec.indicators if i not in known and i.upper() not in known]
    if unknown:
        raise SubscriptionError(f"unknown indicator(s) {', '.join(unknown)} (expected keys, rule ids or codes)")
    tags = {t for b in catalog.rules for t in b.rule.tags}
    if set(spec.tags) - tags:
        raise SubscriptionError(f"unknown tag(s) {', '.join(sorted(set(spec.tags) - tags))} "
                                f"(known: {', '.join(sorted(tags))})")


def check_scope(session: Session, spec: SubscriptionSpec, hint: str) -> None:
    """Providers and teams must be ones a stored return has named (a typo would match nothing,
    silently, for ever); `hint` says how to allow one not seen yet."""
    if not (spec.providers or spec.teams):
        return
    providers, teams = store.known_providers_and_teams(session)
    for what, wanted, known in (("provider", spec.providers, providers), ("team", spec.teams, teams)):
        unknown = sorted(set(wanted) - known)
        if unknown:
            listed = ", ".join(sorted(known)) if known else "none yet: no return has been stored"
            raise SubscriptionError(f"unknown {what}(s) {', '.join(unknown)} (known: {listed}); {hint}")


def _subscriber(session: Session, name: str, email: str | None, teams: str | None,
                empty_digest: bool | None = None, digest_cadence: str | None = None) -> int:
    if not (email or teams):
        raise SubscriptionError(f"subscriber {name!r} needs an email address or a Teams Workflows URL")
    return store.upsert_subscriber(session, name, email, teams, empty_digest, digest_cadence)


def subscribe(session: Session, catalog: Catalog, name: str, email: str | None, teams: str | None,
              spec: SubscriptionSpec, empty_digest: bool | None = None, allow_unknown: bool = True,
              digest_cadence: str | None = None) -> int:
    """`allow_unknown=False` (the CLI's default) refuses providers and teams no return has named.
    `digest_cadence` None keeps the subscriber's (weekly for a new one). Suppressed when the
    subscriber or the address unsubscribed with the one-click link: nothing is added."""
    check_spec(catalog, spec)
    if not allow_unknown:
        check_scope(session, spec, "give --allow-unknown to subscribe to one no return has named yet")
    found = store.suppressed(session, name, email)
    if found is not None:
        raise Suppressed(name, found[1])
    sid = store.add_subscription(session, _subscriber(session, name, email, teams, empty_digest, digest_cadence),
                                 spec.row_values())
    session.commit()
    return sid


def unsubscribe(session: Session, subscription_id: int) -> bool:
    removed = store.delete_subscription(session, subscription_id)
    session.commit()
    return removed


def link_holder(session: Session, subscriber_id: int, version: int) -> str:
    """The name of the subscriber an unsubscribe link names, while the link works: the
    subscriber is on record and has not revoked its links since it was made. LinkRefused else."""
    current = store.links_version(session, subscriber_id)
    if current is None:
        raise LinkRefused("this link's subscriber is no longer on record: kpi-alerts sends them nothing")
    if current != version:
        raise LinkRefused("this link was revoked")
    return store.subscriber_name(session, subscriber_id) or ""


def unsubscribe_subscriber(session: Session, subscriber_id: int, version: int, now: dt.datetime) -> int:
    """The one-click unsubscribe (RFC 8058) by a link of `version`: every subscription of the
    subscriber goes, so no further alert or digest is planned for them, and the subscriber is
    suppressed from `now` (`apply` and `subscribe` add nothing for it until the person follows
    something again in the web app); it stays on record (a name, the delivery log). How many
    subscriptions were removed (0 when already none); LinkRefused for a link that no longer works."""
    link_holder(session, subscriber_id, version)
    removed = store.delete_subscriptions_of(session, subscriber_id)
    store.mark_unsubscribed(session, subscriber_id, now)
    session.commit()
    return removed


def revoke_links(session: Session, name: str) -> bool:
    """Every unsubscribe link sent to subscriber `name` so far stops working (the next email
    carries a new one). False for no such subscriber."""
    done = store.revoke_links(session, name) is not None
    session.commit()
    return done


def subscriber_name(session: Session, subscriber_id: int) -> str | None:
    return store.subscriber_name(session, subscriber_id)


@dataclass
class ApplyReport:
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    subscribers_removed: list[str] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)  # named in the file; nothing added or changed


def yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """`FILE:LINE:COLUMN: problem`, never the offending line's text: that line may hold a
    Teams workflow id and signature or an address (PyYAML's own message quotes it)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else f"{path}"
    problem = getattr(exc, "problem", None) or "not valid YAML"
    context = getattr(exc, "context", None)
    return f"{where}: invalid YAML: {f'{context}, ' if context else ''}{problem}"


def load_file(path: Path) -> SubscriptionsFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return SubscriptionsFile.model_validate(data)
    except yaml.YAMLError as exc:
        raise SubscriptionError(yaml_problem(path, exc)) from None
    except OSError as exc:
        raise SubscriptionError(f"{path}: cannot read subscriptions file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SubscriptionError(f"{path}: cannot read subscriptions file: not UTF-8 (byte {exc.start})") from None
    except ValidationError as exc:
        msgs = [f"{path}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise SubscriptionError("\n".join(msgs)) from None


def apply(session: Session, catalog: Catalog, path: Path) -> ApplyReport:
    """Make the stored subscribers and subscriptions equal to the file, in one transaction,
    leaving alone what the file does not name that a person chose on the web page: the digest
    options of an existing subscriber (`empty_digest`, `digest_cadence`) when the file omits
    them, and the subscriptions they followed themselves. A suppressed subscriber (or address)
    is reported and left as it is."""
    wanted = load_file(path)
    names = [s.name for s in wanted.subscribers]
    if len(names) != len(set(names)):
        raise SubscriptionError(f"{path}: a subscriber name appears twice")
    report = ApplyReport()
    for spec in wanted.subscribers:
        allow_unknown = wanted.allow_unknown if spec.allow_unknown is None else spec.allow_unknown
        for sub in spec.subscriptions:
            check_spec(catalog, sub)
            if not allow_unknown:
                check_scope(session, sub, f"{path}: subscriber {spec.name!r}: set `allow_unknown: true` for it "
                                          f"(or the file) to name one no return has named yet")
        found = store.suppressed(session, spec.name, spec.email)
        if found is not None:
            report.suppressed.append(Suppressed(spec.name, found[1]))
            continue
        given = spec.model_fields_set  # a key the file leaves out keeps the stored value (the default when new)
        sid = _subscriber(session, spec.name, spec.email, spec.teams,
                          spec.empty_digest if "empty_digest" in given else None,
                          spec.digest_cadence if "digest_cadence" in given else None)
        own = store.self_added_ids(session, sid)
        unmatched = store.subscriptions_of(session, sid)
        for values in (s.row_values() for s in spec.subscriptions):
            match = next((h for h in unmatched if h[1] == values), None)
            if match is not None:
                unmatched.remove(match)
                report.unchanged += 1
            else:
                store.add_subscription(session, sid, values)
                report.added += 1
        for subscription_id, _ in unmatched:
            if subscription_id not in own:  # the person's own follow stays
                store.delete_subscription(session, subscription_id)
                report.removed += 1
    removed, report.subscribers_removed = store.remove_subscribers_except(session, names)
    report.removed += removed
    session.commit()
    return report


# --- a person's own subscriptions (the web app's /me and /api/subscriptions) ---------------


def own_subscriber(session: Session, email: str, name: str, create: bool) -> int | None:
    """The subscriber whose address is the signed-in user's; made (named after them, or their
    address when another subscriber has that name) on first use when `create`."""
    found = store.subscriber_by_email(session, email)
    if found is not None or not create:
        return found.id if found is not None else None
    label = name.strip() or email
    if store.name_taken(session, label):
        label = f"{label} ({email})"
    return _subscriber(session, label, email, None)


def follow(session: Session, catalog: Catalog, subscriber_id: int, spec: SubscriptionSpec,
           by_self: bool = False) -> int:
    """Add a subscription; the next notification uses it. Providers and teams must be ones a
    return has named (the form offers only those). `by_self`: the subscriber themselves, which
    lifts a one-click unsubscribe's suppression and marks the subscription theirs (`apply`
    keeps it); anyone else (a performance user) cannot add to a suppressed subscriber. Commits."""
    check_spec(catalog, spec)
    check_scope(session, spec, "choose one from the list")
    who = store.subscriber_by_id(session, subscriber_id)
    if by_self:
        store.lift_suppression(session, subscriber_id)
    elif who is not None:
        found = store.suppressed(session, who.name, who.email)
        if found is not None:
            raise Suppressed(who.name, found[1])
    sid = store.add_subscription(session, subscriber_id, spec.row_values(), self_added=by_self)
    session.commit()
    return sid


def unfollow(session: Session, subscriber_id: int, subscription_id: int) -> bool:
    removed = store.delete_subscription_of(session, subscriber_id, subscription_id)
    session.commit()
    return removed


def set_digest_options(session: Session, subscriber_id: int, empty_digest: bool, cadence: str) -> None:
    if cadence not in ("weekly", "monthly"):
        raise SubscriptionError(f"unknown digest cadence {cadence!r} (expected weekly or monthly)")
    store.set_digest_options(session, subscriber_id, empty_digest, cadence)
    session.commit()
