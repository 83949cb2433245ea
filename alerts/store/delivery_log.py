"""The delivery log as people read it (`kpi-alerts deliveries`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from alerts.store.models import Delivery, Subscriber


def delivery_log(session: Session, failed_only: bool = False) -> list[dict]:
    q = select(Delivery, Subscriber.name).join(Subscriber).order_by(Delivery.id)
    if failed_only:
        q = q.where(Delivery.status.in_(("failed", "unknown")))  # type: ignore[attr-defined]
    return [{"id": d.id, "key": d.key, "subscriber": name, "channel": d.channel, "subject": d.subject,
             "status": d.status, "attempts": d.attempts, "last_error": d.last_error,
             "next_attempt_at": d.next_attempt_at.isoformat() if d.status == "pending" else None}
            for d, name in session.execute(q).all()]
