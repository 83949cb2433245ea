"""How a step hands work to the next (alerts/steps.py): to the workers, only task names and
ids travel, and a retry's countdown stays far below the broker's visibility timeout."""

from __future__ import annotations

from alerts import steps
from workers.app import app
from workers.tasks import deliver_task, digest_chunk_task, evaluate_return_task


class Published:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def __call__(self, name: str, args: tuple = (), **options) -> None:
        self.calls.append((name, tuple(args), options))


def test_to_workers_publishes_task_names_and_ids_only(settings):
    from tests.test_relay import land_unevaluated

    return_id = land_unevaluated(settings)
    sent = Published()
    to = steps.ToWorkers(settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0",
                                                     "delivery_backoff_max": 900}), sent)
    sent.calls.clear()
    assert to.evaluate(return_id) is None  # the caller waits for the stored outcome
    to.deliver([3, 4])
    to.digest_chunk("2025-W12", [1, 2])
    to.deliver_later(5, 10_000.0)
    to.deliver_later(6, -3.0)
    assert sent.calls == [
        (steps.EVALUATE, (return_id,), {}), (steps.DELIVER, (3,), {}), (steps.DELIVER, (4,), {}),
        (steps.DIGEST_CHUNK, ("2025-W12", [1, 2]), {}),
        (steps.DELIVER, (5,), {"countdown": 900.0}),  # capped: the wait itself lives in the database
        (steps.DELIVER, (6,), {"countdown": 0.0}),
    ]


def test_the_workers_register_every_step_under_its_name():
    assert {steps.EVALUATE, steps.DELIVER, steps.SWEEP, steps.DIGEST_WEEK, steps.DIGEST_CHUNK,
            steps.REMINDERS} <= set(app.tasks)
    assert (evaluate_return_task.name, deliver_task.name, digest_chunk_task.name) == (
        steps.EVALUATE, steps.DELIVER, steps.DIGEST_CHUNK)


def test_without_a_broker_every_step_runs_here(settings):
    assert isinstance(steps.dispatcher_for(settings), steps.InProcess)
    assert isinstance(steps.dispatcher_for(settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})),
                      steps.ToWorkers)
