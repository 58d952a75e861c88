"""The task lifecycle as data: which events move a task from which state to which.

A task starts ``running``; its :class:`Progression` says when it may finish (after N polls
answered ``running`` and/or T seconds of clock time); it then ends ``success`` or ``error``
according to the outcome fixed when it was created.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from youcam_mock.core.models import Task, TaskStatus


class Event(StrEnum):
    SUCCEED = "succeed"
    FAIL = "fail"


#: (state, event) -> next state.  Anything absent is not a legal transition.
TRANSITIONS: dict[tuple[TaskStatus, Event], TaskStatus] = {
    (TaskStatus.RUNNING, Event.SUCCEED): TaskStatus.SUCCESS,
    (TaskStatus.RUNNING, Event.FAIL): TaskStatus.ERROR,
}

TERMINAL = frozenset({TaskStatus.SUCCESS, TaskStatus.ERROR})


def transition(state: TaskStatus, event: Event) -> TaskStatus:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise ValueError(f"no transition from {state} on {event}") from None


@dataclass(frozen=True)
class Progression:
    """When a running task may finish.

    ``running_polls``: how many polls answer ``running`` first (None: polls do not count).
    ``seconds``: how long after creation, in clock time (None: time does not count).
    Both None means the task never finishes on its own (stuck ``running``).
    With both set, ``mode`` says whether both must hold (``all``) or either (``any``).
    """

    running_polls: int | None = 1
    seconds: float | None = None
    mode: str = "all"

    def __post_init__(self) -> None:
        if self.mode not in ("all", "any"):
            raise ValueError("mode is 'all' or 'any'")
        if self.running_polls is not None and self.running_polls < 0:
            raise ValueError("running_polls must be >= 0")
        if self.seconds is not None and self.seconds < 0:
            raise ValueError("seconds must be >= 0")

    @property
    def finishes(self) -> bool:
        return self.running_polls is not None or self.seconds is not None

    def due(self, task: Task, now: float, polls: int) -> bool:
        """Is the task due to finish, given ``polls`` polls including the current one?"""
        checks = []
        if self.running_polls is not None:
            checks.append(polls > self.running_polls)
        if self.seconds is not None:
            checks.append(now >= task.created_at + self.seconds)
        if not checks:
            return False
        return all(checks) if self.mode == "all" else any(checks)

    def finish_time(self, task: Task) -> float | None:
        """When time alone finishes the task (for webhooks and 'advance to next event')."""
        if self.seconds is None:
            return None
        if self.mode == "all" and self.running_polls:
            return None
        return task.created_at + self.seconds

    def to_dict(self) -> dict[str, object]:
        return {"running_polls": self.running_polls, "seconds": self.seconds, "mode": self.mode}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Progression:
        unknown = set(data) - {"running_polls", "seconds", "mode"}
        if unknown:
            raise ValueError(f"unknown progression fields: {sorted(unknown)}")
        polls = data.get("running_polls", 1)
        seconds = data.get("seconds")
        return cls(
            running_polls=None if polls is None else int(polls),  # type: ignore[call-overload]
            seconds=None if seconds is None else float(seconds),  # type: ignore[arg-type]
            mode=str(data.get("mode", "all")),
        )
