"""IdFactory: seeded, vendor-shaped identifiers."""

from __future__ import annotations

import base64
import itertools
import re
import string
from urllib.parse import quote

from youcam_mock.core.ids import IdFactory

URL_SAFE = set(string.ascii_letters + string.digits + "-_")
T0 = 1_767_225_600.0


def _sequence(factory: IdFactory) -> list[object]:
    return [
        factory.file_id(),
        factory.task_id(),
        factory.token(),
        factory.integer(0, 10**9),
        factory.snowflake(T0),
    ]


def test_the_same_seed_gives_the_same_ids() -> None:
    assert _sequence(IdFactory(7)) == _sequence(IdFactory(7))


def test_different_seeds_give_different_ids() -> None:
    assert _sequence(IdFactory(7))[:4] != _sequence(IdFactory(8))[:4]


def test_reseeding_starts_the_sequence_again() -> None:
    factory = IdFactory(3)
    first = _sequence(factory)
    factory.reseed(3)
    assert _sequence(factory) == first
    assert factory.seed == 3


def test_file_ids_are_64_characters_of_standard_base64() -> None:
    factory = IdFactory(0)
    ids = [factory.file_id() for _ in range(200)]
    for file_id in ids:
        assert len(file_id) == 64
        assert re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", file_id)
        assert len(base64.b64decode(file_id, validate=True)) == 48
    # Like the vendor's: clients must cope with "+" and "/" in a file id.
    assert any("+" in i for i in ids)
    assert any("/" in i for i in ids)
    assert len(set(ids)) == len(ids)


def test_task_ids_are_64_url_safe_characters_needing_no_encoding() -> None:
    factory = IdFactory(0)
    ids = [factory.task_id() for _ in range(200)]
    for task_id in ids:
        assert len(task_id) == 64
        assert set(task_id) <= URL_SAFE
        assert quote(task_id, safe="") == task_id
    assert len(set(ids)) == len(ids)


def test_tokens_are_url_safe_without_padding() -> None:
    token = IdFactory(0).token(18)
    assert set(token) <= URL_SAFE
    assert len(token) == 24


def test_snowflakes_exceed_2_to_the_53_so_javascript_would_round_them() -> None:
    assert IdFactory(0).snowflake(T0) > 2**53


def test_snowflakes_increase_as_time_moves_on() -> None:
    factory = IdFactory(5)
    values = [factory.snowflake(T0 + i * 0.001) for i in range(50)]
    assert values == sorted(values)
    assert len(set(values)) == len(values)


def test_snowflakes_taken_in_the_same_millisecond_still_increase() -> None:
    factory = IdFactory(5)
    values = [factory.snowflake(T0) for _ in range(100)]
    assert all(b > a for a, b in itertools.pairwise(values))


def test_snowflakes_stay_unique_and_increasing_past_4096_in_one_millisecond() -> None:
    """A frozen ManualClock puts every request id of a test in one millisecond."""
    factory = IdFactory(5)
    values = [factory.snowflake(T0) for _ in range(5000)]
    assert all(b > a for a, b in itertools.pairwise(values))


def test_integers_stay_within_their_bounds() -> None:
    factory = IdFactory(1)
    values = {factory.integer(3, 5) for _ in range(100)}
    assert values == {3, 4, 5}


def test_a_snowflake_for_an_earlier_timestamp_still_comes_after_the_last_one() -> None:
    factory = IdFactory(5)
    later = factory.snowflake(T0 + 60)
    assert factory.snowflake(T0) > later
