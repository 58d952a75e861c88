"""The task lifecycle: the transition table and the Progression policy."""

from __future__ import annotations

import itertools

import pytest

from youcam_mock.core.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    Event,
    Progression,
    transition,
)
from youcam_mock.core.models import Task, TaskStatus

T0 = 1_000_000.0


def _task(created_at: float = T0) -> Task:
    return Task(
        task_id="t" * 64,
        owner="key",
        feature="sod",
        version="v2.0",
        created_at=created_at,
        request={},
    )


# ---------------------------------------------------------------------- transitions


def test_a_running_task_succeeds_or_fails() -> None:
    assert transition(TaskStatus.RUNNING, Event.SUCCEED) is TaskStatus.SUCCESS
    assert transition(TaskStatus.RUNNING, Event.FAIL) is TaskStatus.ERROR


def test_the_table_holds_exactly_the_two_ways_out_of_running() -> None:
    assert TRANSITIONS == {
        (TaskStatus.RUNNING, Event.SUCCEED): TaskStatus.SUCCESS,
        (TaskStatus.RUNNING, Event.FAIL): TaskStatus.ERROR,
    }


@pytest.mark.parametrize(
    ("state", "event"),
    [(s, e) for s, e in itertools.product(TERMINAL, Event)],
)
def test_a_finished_task_never_moves_again(state: TaskStatus, event: Event) -> None:
    with pytest.raises(ValueError, match="no transition"):
        transition(state, event)


def test_success_and_error_are_the_terminal_states() -> None:
    assert {TaskStatus.SUCCESS, TaskStatus.ERROR} == TERMINAL
    assert TaskStatus.RUNNING not in TERMINAL


# ---------------------------------------------------------------------- progression: polls


def test_by_default_one_poll_answers_running_and_the_next_finishes() -> None:
    progression = Progression()
    task = _task()
    assert progression.running_polls == 1
    assert not progression.due(task, T0, polls=1)
    assert progression.due(task, T0, polls=2)


def test_running_polls_sets_how_many_polls_answer_running_first() -> None:
    progression = Progression(running_polls=3)
    task = _task()
    assert [progression.due(task, T0, polls=n) for n in range(1, 6)] == [
        False,
        False,
        False,
        True,
        True,
    ]


def test_zero_running_polls_finishes_on_the_first_poll() -> None:
    assert Progression(running_polls=0).due(_task(), T0, polls=1)


def test_a_poll_driven_task_ignores_the_clock() -> None:
    progression = Progression(running_polls=2)
    assert not progression.due(_task(), T0 + 10**6, polls=1)
    assert progression.finish_time(_task()) is None


# ---------------------------------------------------------------------- progression: seconds


def test_a_time_driven_task_finishes_once_its_seconds_have_passed() -> None:
    progression = Progression(running_polls=None, seconds=30)
    task = _task()
    assert not progression.due(task, T0 + 29.9, polls=50)
    assert progression.due(task, T0 + 30, polls=1)
    assert progression.finish_time(task) == T0 + 30


def test_with_mode_all_both_the_polls_and_the_seconds_must_hold() -> None:
    progression = Progression(running_polls=2, seconds=30, mode="all")
    task = _task()
    assert not progression.due(task, T0 + 60, polls=2)
    assert not progression.due(task, T0 + 10, polls=5)
    assert progression.due(task, T0 + 30, polls=3)
    # Time alone cannot finish it, so there is no finish time to schedule.
    assert progression.finish_time(task) is None


def test_with_mode_any_either_the_polls_or_the_seconds_finish_the_task() -> None:
    progression = Progression(running_polls=2, seconds=30, mode="any")
    task = _task()
    assert not progression.due(task, T0 + 10, polls=2)
    assert progression.due(task, T0 + 10, polls=3)
    assert progression.due(task, T0 + 30, polls=1)
    assert progression.finish_time(task) == T0 + 30


def test_mode_all_with_zero_running_polls_is_finished_by_time_alone() -> None:
    progression = Progression(running_polls=0, seconds=5)
    assert progression.finish_time(_task()) == T0 + 5


# ---------------------------------------------------------------------- progression: stuck


def test_with_neither_polls_nor_seconds_a_task_stays_running_forever() -> None:
    progression = Progression(running_polls=None, seconds=None)
    task = _task()
    assert not progression.finishes
    assert not progression.due(task, T0 + 10**9, polls=10**6)
    assert progression.finish_time(task) is None


def test_a_progression_with_polls_or_seconds_finishes() -> None:
    assert Progression().finishes
    assert Progression(running_polls=None, seconds=1).finishes


# ---------------------------------------------------------------------- validation and dicts


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": "either"}, {"running_polls": -1}, {"seconds": -0.5}],
)
def test_nonsense_progressions_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Progression(**kwargs)  # type: ignore[arg-type]


def test_a_progression_survives_a_round_trip_through_a_dict() -> None:
    progression = Progression(running_polls=None, seconds=12.5, mode="any")
    assert Progression.from_dict(progression.to_dict()) == progression


def test_from_dict_defaults_to_one_running_poll() -> None:
    assert Progression.from_dict({}) == Progression(running_polls=1, seconds=None, mode="all")


def test_from_dict_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError, match="unknown progression fields"):
        Progression.from_dict({"polls": 2})
