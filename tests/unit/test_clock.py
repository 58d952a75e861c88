"""ManualClock: the clock tests move by hand (never by sleeping), and SystemClock."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from youcam_mock.core import clock as clock_module
from youcam_mock.core.clock import ManualClock, SystemClock


class FakeMonotonic:
    """A hand-driven stand-in for time.monotonic."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    """Only the clock module sees the fake: the rest of the process keeps real time."""
    fake = FakeMonotonic()
    monkeypatch.setattr(clock_module, "time", SimpleNamespace(monotonic=fake, time=time.time))
    return fake


def test_a_manual_clock_starts_at_its_fixed_readable_epoch() -> None:
    assert ManualClock().now() == ManualClock.DEFAULT_START == 1_767_225_600.0
    assert ManualClock(start=42).now() == 42.0


def test_a_manual_clock_stands_still_until_advanced(monotonic: FakeMonotonic) -> None:
    clock = ManualClock(start=100)
    monotonic.value += 3600
    assert clock.now() == 100.0


def test_advance_moves_the_clock_forward_and_returns_the_new_time() -> None:
    clock = ManualClock(start=100)
    assert clock.advance(30) == 130.0
    assert clock.advance(0.5) == 130.5
    assert clock.now() == 130.5


def test_advance_refuses_to_go_backwards_and_leaves_the_time_alone() -> None:
    clock = ManualClock(start=100)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    assert clock.now() == 100.0


def test_set_jumps_to_a_later_time() -> None:
    clock = ManualClock(start=100)
    assert clock.set(500) == 500.0
    assert clock.now() == 500.0


def test_set_to_the_current_time_is_allowed() -> None:
    clock = ManualClock(start=100)
    assert clock.set(100) == 100.0


def test_set_refuses_an_earlier_time_and_leaves_the_time_alone() -> None:
    clock = ManualClock(start=100)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(99.9)
    assert clock.now() == 100.0


def test_a_speed_factor_runs_the_clock_faster_than_the_monotonic_source(
    monotonic: FakeMonotonic,
) -> None:
    clock = ManualClock(start=100, speed=100)
    assert clock.speed == 100
    monotonic.value += 0.36
    assert clock.now() == pytest.approx(136.0)


def test_advancing_a_running_clock_keeps_the_time_already_elapsed(
    monotonic: FakeMonotonic,
) -> None:
    clock = ManualClock(start=100, speed=10)
    monotonic.value += 1
    assert clock.advance(5) == pytest.approx(115.0)
    monotonic.value += 1
    assert clock.now() == pytest.approx(125.0)


def test_changing_speed_keeps_time_continuous(monotonic: FakeMonotonic) -> None:
    clock = ManualClock(start=100, speed=10)
    monotonic.value += 2
    clock.set_speed(0)
    assert clock.now() == pytest.approx(120.0)
    monotonic.value += 50
    assert clock.now() == pytest.approx(120.0)
    clock.set_speed(2)
    monotonic.value += 3
    assert clock.now() == pytest.approx(126.0)


def test_set_on_a_running_clock_refuses_a_time_the_clock_already_passed(
    monotonic: FakeMonotonic,
) -> None:
    clock = ManualClock(start=100, speed=10)
    monotonic.value += 1  # now 110
    with pytest.raises(ValueError, match="backwards"):
        clock.set(105)
    assert clock.set(200) == 200.0


def test_a_negative_speed_is_refused() -> None:
    clock = ManualClock()
    with pytest.raises(ValueError):
        clock.set_speed(-1)
    assert clock.speed == 0


def test_the_system_clock_reads_wall_time() -> None:
    before = time.time()
    now = SystemClock().now()
    assert before <= now <= time.time()
