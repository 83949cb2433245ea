"""Subscribers and their subscriptions: every statement `subscribe`, `unsubscribe`,
`subscriptions` and `subscriptions apply` run. The caller commits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from alerts.store.models import Delivery, Observation, Subscriber, Subscription

FIELDS = ("indicators", "tags", "providers", "teams", "transitions", "min_severity", "delivery")


def upsert_subscriber(session: Session, name: str, email: str | None, teams_url: str | None,
                      empty_digest: bool | None, digest_cadence: str | None = None) -> int:
    """The subscriber called `name`, created or given these addresses; its id. `empty_digest`
    and `digest_cadence` are kept as they are when None."""
    who = session.execute(select(Subscriber).where(Subscriber.name == name)).scalar_one_or_none()
    if who is None:
        who = Subscriber(name=name)
    who.email, who.teams_url = email, teams_url
    if empty_digest is not None:
        who.empty_digest = empty_digest
    if digest_cadence is not None:
        who.digest_cadence = digest_cadence
    session.add(who)
    session.flush()
    return who.id  # type: ignore[return-value]


def add_subscription(session: Session, subscriber_id: int, values: dict, self_added: bool = False) -> int:
    sub = Subscription(subscriber_id=subscriber_id, self_added=self_added, **values)
    session.add(sub)
    session.flush()
    return sub.id  # type: ignore[return-value]


def delete_subscription(session: Session, subscription_id: int) -> bool:
    return bool(session.execute(delete(Subscription).where(Subscription.id == subscription_id)).rowcount)


def delete_subscriptions_of(session: Session, subscriber_id: int) -> int:
    """Remove every subscription of one subscriber (the one-click unsubscribe); how many."""
    return session.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber_id)).rowcount


def mark_unsubscribed(session: Session, subscriber_id: int, at: dt.datetime) -> None:
    """Suppress the subscriber from `at` (kept when already suppressed: the first click counts)."""
    session.execute(update(Subscriber).where(Subscriber.id == subscriber_id, Subscriber.unsubscribed_at.is_(None))  # type: ignore[union-attr]
                    .values(unsubscribed_at=at))


def suppressed(session: Session, name: str, email: str | None) -> tuple[str, dt.datetime] | None:
    """(name, unsubscribed_at) of the suppressed subscriber called `name`, or else of one with
    the address `email` (compared lower-cased: a new name cannot bring an unsubscribed address
    back); None when neither is suppressed."""
    match = Subscriber.name == name
    if email:
        match = match | (func.lower(Subscriber.email) == email.lower())  # type: ignore[assignment]
    q = (select(Subscriber.name, Subscriber.unsubscribed_at)
         .where(match, Subscriber.unsubscribed_at.is_not(None))  # type: ignore[union-attr]
         .order_by((Subscriber.name != name), Subscriber.id).limit(1))
    row = session.execute(q).first()
    return (row[0], row[1]) if row is not None else None


def lift_suppression(session: Session, subscriber_id: int) -> None:
    """The person subscribed again themselves: their subscriber, and any other with their
    address, is no longer suppressed."""
    who = session.get(Subscriber, subscriber_id)
    if who is None:
        return
    match = Subscriber.id == subscriber_id
    if who.email:
        match = match | (func.lower(Subscriber.email) == who.email.lower())  # type: ignore[assignment]
    session.execute(update(Subscriber).where(match).values(unsubscribed_at=None))


def links_version(session: Session, subscriber_id: int) -> int | None:
    """The subscriber's unsubscribe links version; None when it is no longer on record."""
    q = select(Subscriber.unsubscribe_version).where(Subscriber.id == subscriber_id)
    return session.execute(q).scalar_one_or_none()


def revoke_links(session: Session, name: str) -> int | None:
    """Bump the unsubscribe links version of the subscriber called `name`: every link made so
    far stops working. The new version; None for no such subscriber."""
    q = (update(Subscriber).where(Subscriber.name == name)
         .values(unsubscribe_version=Subscriber.unsubscribe_version + 1).returning(Subscriber.unsubscribe_version))
    return session.execute(q).scalar_one_or_none()


def subscriber_name(session: Session, subscriber_id: int) -> str | None:
    return session.execute(select(Subscriber.name).where(Subscriber.id == subscriber_id)).scalar_one_or_none()


def subscriptions_of(session: Session, subscriber_id: int) -> list[tuple[int, dict]]:
    """(id, values) of each of a subscriber's subscriptions, values keyed by FIELDS."""
    rows = session.execute(select(Subscription).where(Subscription.subscriber_id == subscriber_id)).scalars()
    return [(s.id, {k: getattr(s, k) for k in FIELDS}) for s in rows]  # type: ignore[misc]


def self_added_ids(session: Session, subscriber_id: int) -> set[int]:
    """The ids of the subscriptions the subscriber followed themselves on the web page."""
    q = select(Subscription.id).where(Subscription.subscriber_id == subscriber_id, Subscription.self_added)
    return set(session.execute(q).scalars())


def listing(session: Session) -> list[tuple[Subscription, Subscriber]]:
    rows = session.execute(select(Subscription, Subscriber).join(Subscriber).order_by(Subscription.id)).all()
    return [(s, w) for s, w in rows]


def remove_subscribers_except(session: Session, names: list[str]) -> tuple[int, list[str]]:
    """Drop every subscription of the subscribers not named, except those the person followed
    themselves on the web page (such a subscriber stays, and is not counted as removed); a
    subscriber itself goes too unless deliveries to it are on record (the log keeps who was
    told what) or it is suppressed (its row holds the suppression). Returns the subscriptions
    removed and the subscribers' names."""
    removed, gone = 0, []
    for who in session.execute(select(Subscriber).where(Subscriber.name.not_in(names))).scalars().all():  # type: ignore[attr-defined]
        removed += session.execute(delete(Subscription).where(Subscription.subscriber_id == who.id,
                                                              Subscription.self_added.is_(False))).rowcount  # type: ignore[attr-defined]
        if self_added_ids(session, who.id):  # type: ignore[arg-type]
            continue
        used = session.execute(select(func.count()).select_from(Delivery).where(Delivery.subscriber_id == who.id))
        if not used.scalar_one() and who.unsubscribed_at is None:
            session.delete(who)
        gone.append(who.name)
    return removed, gone


def known_providers_and_teams(session: Session) -> tuple[set[str], set[str]]:
    """The providers and teams stored returns have named (what a subscription can scope to)."""
    providers = session.execute(select(Observation.provider).distinct()).scalars()
    teams = session.execute(select(Observation.team).where(Observation.team.is_not(None)).distinct()).scalars()  # type: ignore[union-attr]
    return set(providers), set(teams)


def subscriber_by_email(session: Session, email: str) -> Subscriber | None:
    """The (first) subscriber with that address, compared lower-cased: a signed-in user's own."""
    q = select(Subscriber).where(func.lower(Subscriber.email) == email.lower()).order_by(Subscriber.id).limit(1)
    return session.execute(q).scalar_one_or_none()


def subscriber_by_id(session: Session, subscriber_id: int) -> Subscriber | None:
    return session.get(Subscriber, subscriber_id)


def subscribers(session: Session) -> list[Subscriber]:
    return list(session.execute(select(Subscriber).order_by(Subscriber.name)).scalars())


def name_taken(session: Session, name: str) -> bool:
    return session.execute(select(Subscriber.id).where(Subscriber.name == name)).first() is not None


def delete_subscription_of(session: Session, subscriber_id: int, subscription_id: int) -> bool:
    """Remove one subscription if it is that subscriber's."""
    q = delete(Subscription).where(Subscription.id == subscription_id, Subscription.subscriber_id == subscriber_id)
    return bool(session.execute(q).rowcount)


def set_digest_options(session: Session, subscriber_id: int, empty_digest: bool, cadence: str) -> None:
    who = session.get(Subscriber, subscriber_id)
    if who is not None:
        who.empty_digest, who.digest_cadence = empty_digest, cadence
        session.add(who)
