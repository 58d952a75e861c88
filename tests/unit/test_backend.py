"""The Backend: the emulator's behaviour with no HTTP in sight (ManualClock, InMemoryStore)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.flow import jpeg, mp4, png_mask
from youcam_mock.contract import load_contract
from youcam_mock.core import media
from youcam_mock.core.backend import Backend, decode_token, encode_token, paginate
from youcam_mock.core.clock import ManualClock
from youcam_mock.core.config import DAY, DEFAULT_API_KEY, HOUR, MockConfig
from youcam_mock.core.errors import ApiError
from youcam_mock.core.features import FeatureSpec
from youcam_mock.core.lifecycle import Progression
from youcam_mock.core.models import ASSET_KEY, KeyState, Task, TaskStatus
from youcam_mock.core.store import InMemoryStore

FEATURES = load_contract().features
A = DEFAULT_API_KEY
B = "ycm_tenant_b"
NOWHERE = "https://images.example.com/not-served-by-the-emulator.jpg"


@dataclass
class Harness:
    backend: Backend
    store: InMemoryStore
    clock: ManualClock

    def upload(
        self,
        data: bytes | None = None,
        content_type: str = "image/jpeg",
        owner: str = A,
        *,
        send: bool = True,
    ) -> str:
        data = jpeg() if data is None else data
        (record,) = self.backend.register_files(
            owner, [{"content_type": content_type, "file_name": "in", "file_size": len(data)}]
        )
        if send:
            self.backend.accept_upload(record.file_id, data, content_type)
        return record.file_id

    def create(self, key: str, request: dict[str, Any], owner: str = A) -> Task:
        return self.backend.create_task(owner, FEATURES[key], request)

    def poll(self, key: str, task_id: str, owner: str = A) -> Task:
        return self.backend.get_task(owner, FEATURES[key], task_id)

    def finish(self, key: str, task_id: str, owner: str = A) -> Task:
        for _ in range(10):
            task = self.poll(key, task_id, owner)
            if task.status is not TaskStatus.RUNNING:
                return task
        raise AssertionError("task never finished")

    def units(self, owner: str = A) -> float:
        record = self.store.get_key(owner)
        assert record is not None
        return record.units

    def stored(self) -> dict[str, int]:
        """What the store holds (files, tasks, results and their bytes)."""
        stats = self.store.stats()
        return {k: stats[k] for k in ("files", "tasks", "assets", "blobs", "blob_bytes")}

    def asset_bytes(self, results: Any) -> list[bytes]:
        return [self.backend.get_asset(asset_id)[1] for asset_id in asset_ids(results)]


Make = Callable[..., Harness]


@pytest.fixture
def make() -> Make:
    def build(
        config: MockConfig | None = None, resolve_url: Callable[[str], bytes | None] | None = None
    ) -> Harness:
        store = InMemoryStore()
        clock = ManualClock()
        config = config or MockConfig(api_keys=(A, B))
        backend = Backend(store, clock, config, FEATURES, resolve_url=resolve_url)
        return Harness(backend, store, clock)

    return build


@pytest.fixture
def h(make: Make) -> Harness:
    return make()


def asset_ids(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if set(node) == {ASSET_KEY}:
            yield node[ASSET_KEY]
            return
        for value in node.values():
            yield from asset_ids(value)
    elif isinstance(node, list):
        for value in node:
            yield from asset_ids(value)


def error_code(call: Callable[[], object]) -> str:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.code


# ---------------------------------------------------------------------- keys


def test_every_configured_key_starts_with_the_configured_units(make: Make) -> None:
    h = make(MockConfig(api_keys=(A, B), units=50))
    assert h.units(A) == h.units(B) == 50


def test_authentication_names_what_is_wrong_with_a_key(make: Make) -> None:
    h = make(MockConfig(api_keys=(A,), inactive_keys=("off",), expired_keys=("old",)))
    assert h.backend.authenticate(A).key == A
    assert error_code(lambda: h.backend.authenticate(None)) == "InvalidApiKey"
    assert error_code(lambda: h.backend.authenticate("")) == "InvalidApiKey"
    assert error_code(lambda: h.backend.authenticate("nobody")) == "InvalidApiKey"
    assert error_code(lambda: h.backend.authenticate("off")) == "InactiveApiKey"
    assert error_code(lambda: h.backend.authenticate("old")) == "ExpiredApiKey"


def test_a_key_can_be_switched_off_and_on(h: Harness) -> None:
    h.backend.set_key_state(B, KeyState.INACTIVE)
    assert error_code(lambda: h.backend.authenticate(B)) == "InactiveApiKey"
    h.backend.set_key_state(B, KeyState.ACTIVE)
    assert h.backend.authenticate(B).key == B


def test_a_key_with_whitespace_is_refused(h: Harness) -> None:
    assert error_code(lambda: h.backend.add_key("two words")) == "InvalidParameters"
    assert error_code(lambda: h.backend.add_key("")) == "InvalidParameters"


def test_setting_units_records_the_difference_in_the_history(h: Harness) -> None:
    h.backend.set_units(A, 10)
    assert h.units(A) == 10
    assert h.store.ledger(A)[-1].amount == 10 - 100_000


# ---------------------------------------------------------------------- files


def test_registering_files_answers_one_record_per_file_in_request_order(h: Harness) -> None:
    records = h.backend.register_files(
        A,
        [
            {"content_type": "image/jpg", "file_name": "one.jpg", "file_size": 10},
            {"content_type": "image/png", "file_name": "two.png", "file_size": 20},
            {"content_type": "video/mp4", "file_name": "three.mp4", "file_size": 30},
        ],
    )
    assert [(r.content_type, r.file_name, r.file_size) for r in records] == [
        ("image/jpg", "one.jpg", 10),
        ("image/png", "two.png", 20),
        ("video/mp4", "three.mp4", 30),
    ]
    assert len({r.file_id for r in records}) == 3
    assert not any(r.uploaded for r in records)


@pytest.mark.parametrize(
    "item",
    [
        {"content_type": "image/jpeg", "file_name": "big.jpg", "file_size": 10 * 1024 * 1024 + 1},
        {"content_type": "video/mp4", "file_name": "big.mp4", "file_size": 100 * 1024 * 1024 + 1},
        {"content_type": "application/pdf", "file_name": "doc.pdf", "file_size": 10},
        {"content_type": "image/jpeg", "file_name": "neg.jpg", "file_size": -1},
    ],
)
def test_files_beyond_the_limits_are_refused_and_none_is_registered(
    h: Harness, item: dict[str, Any]
) -> None:
    ok = {"content_type": "image/jpeg", "file_name": "ok.jpg", "file_size": 10}
    assert error_code(lambda: h.backend.register_files(A, [ok, item])) == "InvalidParameters"
    assert h.stored()["files"] == 0


def test_registering_no_files_is_refused(h: Harness) -> None:
    assert error_code(lambda: h.backend.register_files(A, [])) == "InvalidParameters"


def test_an_upload_must_match_the_registered_size_and_type(h: Harness) -> None:
    data = jpeg()
    file_id = h.upload(data, send=False)
    assert error_code(lambda: h.backend.accept_upload(file_id, data[:-1], "image/jpeg")) == (
        "UploadMismatch"
    )
    assert error_code(lambda: h.backend.accept_upload(file_id, data, "image/png")) == (
        "UploadMismatch"
    )
    record = h.backend.accept_upload(file_id, data, "IMAGE/JPEG; charset=binary")
    assert record.uploaded
    assert record.media is not None and record.media["width"] == 640


def test_an_upload_after_the_upload_window_is_refused(h: Harness) -> None:
    data = jpeg()
    file_id = h.upload(data, send=False)
    h.clock.advance(h.backend.config.upload_url_ttl + 1)
    assert error_code(lambda: h.backend.accept_upload(file_id, data, "image/jpeg")) == (
        "RequestExpired"
    )
    assert h.backend.file_bytes(file_id) is None


def test_an_upload_for_an_unknown_file_is_not_found(h: Harness) -> None:
    assert error_code(lambda: h.backend.accept_upload("nope", b"x", None)) == "NotFound"


# ---------------------------------------------------------------------- tasks: lifecycle


def test_a_task_answers_running_once_then_succeeds_with_results(h: Harness) -> None:
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    assert task.status is TaskStatus.RUNNING
    assert h.poll("v2.0/sod", task.task_id).status is TaskStatus.RUNNING
    done = h.poll("v2.0/sod", task.task_id)
    assert done.status is TaskStatus.SUCCESS
    assert done.results is not None and list(asset_ids(done.results))
    assert done.finished_at == h.clock.now()


def test_a_per_feature_progression_overrides_the_default(h: Harness) -> None:
    h.backend.progressions["v2.0/sod"] = Progression(running_polls=3)
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    statuses = [h.poll("v2.0/sod", task.task_id).status for _ in range(4)]
    assert statuses == [TaskStatus.RUNNING] * 3 + [TaskStatus.SUCCESS]


def test_a_time_driven_task_finishes_when_the_clock_says_so_without_a_poll(make: Make) -> None:
    h = make(MockConfig(progression=Progression(running_polls=None, seconds=30)))
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    assert h.backend.next_event_time() == task.created_at + 30
    h.clock.advance(29)
    assert h.backend.advance_tasks() == []
    h.clock.advance(1)
    finished = h.backend.advance_tasks()
    assert [t.task_id for t in finished] == [task.task_id]
    assert h.poll("v2.0/sod", task.task_id).status is TaskStatus.SUCCESS


def test_a_stuck_task_keeps_answering_running(make: Make) -> None:
    h = make(MockConfig(progression=Progression(running_polls=None, seconds=None)))
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    for _ in range(5):
        h.clock.advance(HOUR)
        assert h.poll("v2.0/sod", task.task_id).status is TaskStatus.RUNNING


def test_a_task_is_only_visible_through_its_own_feature(h: Harness) -> None:
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    assert error_code(lambda: h.poll("v2.0/enhance", task.task_id)) == "InvalidTaskId"
    assert error_code(lambda: h.poll("v2.0/sod", "x" * 64)) == "InvalidTaskId"
    assert h.poll("v2.0/sod", task.task_id).polls == 1


def test_the_v2_0_and_v2_1_skin_analysis_are_different_operations(h: Harness) -> None:
    task = h.create("v2.1/skin-analysis", {"src_file_id": h.upload(), "dst_actions": ["acne"]})
    assert error_code(lambda: h.poll("v2.0/skin-analysis", task.task_id)) == "InvalidTaskId"
    assert h.finish("v2.1/skin-analysis", task.task_id).status is TaskStatus.SUCCESS


# ---------------------------------------------------------------------- tenants


def test_another_key_cannot_poll_or_delete_a_task(h: Harness) -> None:
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    assert error_code(lambda: h.poll("v2.0/sod", task.task_id, owner=B)) == "InvalidTaskId"
    h.finish("v2.0/sod", task.task_id)
    assert error_code(lambda: h.backend.delete_task(B, task.task_id)) == "InvalidTaskId"
    assert h.poll("v2.0/sod", task.task_id).status is TaskStatus.SUCCESS


def test_another_key_cannot_use_a_file_it_did_not_register(h: Harness) -> None:
    file_id = h.upload(owner=A)
    before = h.units(B)
    with pytest.raises(ApiError) as caught:
        h.create("v2.0/sod", {"src_file_id": file_id}, owner=B)
    assert caught.value.code == "InvalidParameters"
    assert "src_file_id" in caught.value.message
    assert h.units(B) == before
    assert h.stored()["tasks"] == 0


def test_an_unknown_file_id_is_an_invalid_parameter_naming_the_field(h: Harness) -> None:
    with pytest.raises(ApiError) as caught:
        h.create("v2.0/sod", {"src_file_id": "no-such-file"})
    assert caught.value.code == "InvalidParameters"
    assert "src_file_id" in caught.value.message


# ---------------------------------------------------------------------- units


def test_units_are_charged_once_when_the_task_is_created(h: Harness) -> None:
    before = h.units()
    task = h.create("v2.0/enhance", {"src_file_id": h.upload(), "scale": 1})
    assert task.cost == 2
    assert h.units() == before - 2
    h.finish("v2.0/enhance", task.task_id)
    assert h.units() == before - 2
    charge = h.store.ledger(A)[-1]
    assert (charge.target_id, charge.amount, charge.action) == (
        task.task_id,
        -2,
        "api_photo_enhance",
    )


def test_a_skin_analysis_charge_records_its_actions(h: Harness) -> None:
    actions = ["hd_wrinkle", "hd_pore", "hd_texture", "hd_acne", "hd_oiliness"]
    task = h.create("v2.0/skin-analysis", {"src_file_id": h.upload(), "dst_actions": actions})
    assert task.cost == 16
    assert h.store.ledger(A)[-1].dst_actions == actions


def test_too_few_units_refuses_the_task_and_leaves_the_balance_untouched(make: Make) -> None:
    h = make(MockConfig(units=8))
    file_id = h.upload()
    with pytest.raises(ApiError) as caught:
        h.create("v2.0/skin-analysis", {"src_file_id": file_id, "dst_actions": ["acne"]})
    assert caught.value.code == "CreditInsufficiency"
    assert h.units() == 8
    assert h.stored()["tasks"] == 0
    assert len(h.store.ledger(A)) == 1  # only the opening balance


def test_exactly_enough_units_runs_the_task_and_empties_the_balance(make: Make) -> None:
    h = make(MockConfig(units=9))
    h.create("v2.0/skin-analysis", {"src_file_id": h.upload(), "dst_actions": ["acne"]})
    assert h.units() == 0


def test_a_video_task_is_charged_for_the_seconds_of_its_input(h: Harness) -> None:
    video = mp4()
    duration = media.probe(video).duration_s
    assert duration is not None and 0 < duration <= 5
    template_id = h.backend.templates("video-trans", "v2.0")[0].id
    task = h.create(
        "v2.0/video-trans",
        {"src_file_id": h.upload(video, "video/mp4"), "template_id": template_id},
    )
    assert task.cost == 4 * math.ceil(duration)


def test_avatar_output_count_decides_the_charge(h: Harness) -> None:
    template_id = h.backend.templates("ai-avatar", "v2.0")[0].id
    request = {"src_file_id": h.upload(), "template_id": template_id, "output_count": 5}
    assert h.create("v2.0/ai-avatar", request).cost == 2


# ---------------------------------------------------------------------- delete


def test_a_running_task_cannot_be_deleted(h: Harness) -> None:
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    assert error_code(lambda: h.backend.delete_task(A, task.task_id)) == "OperationInvalid"
    assert h.store.get_task(task.task_id) is not None


def test_deleting_a_finished_task_removes_it_its_results_and_its_input_files(
    h: Harness,
) -> None:
    baseline = h.stored()
    file_id = h.upload()
    task = h.create("v2.0/sod", {"src_file_id": file_id})
    done = h.finish("v2.0/sod", task.task_id)
    assets = list(asset_ids(done.results))
    assert assets

    h.backend.delete_task(A, task.task_id)

    assert error_code(lambda: h.poll("v2.0/sod", task.task_id)) == "InvalidTaskId"
    for asset_id in assets:
        assert error_code(lambda a=asset_id: h.backend.get_asset(a)) == "NotFound"
    assert h.store.get_file(file_id) is None
    assert h.backend.file_bytes(file_id) is None
    assert h.stored() == baseline


def test_a_task_that_ended_in_error_can_be_deleted(h: Harness) -> None:
    task = h.create("v2.0/sod", {"src_file_url": NOWHERE})
    assert h.finish("v2.0/sod", task.task_id).status is TaskStatus.ERROR
    h.backend.delete_task(A, task.task_id)
    assert h.store.get_task(task.task_id) is None


def test_deleting_an_unknown_task_is_an_invalid_task_id(h: Harness) -> None:
    assert error_code(lambda: h.backend.delete_task(A, "x" * 64)) == "InvalidTaskId"


# ---------------------------------------------------------------------- retention


def test_a_finished_task_can_be_polled_until_its_results_expire(h: Harness) -> None:
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    h.finish("v2.0/sod", task.task_id)
    h.clock.advance(DAY - 1)
    assert h.poll("v2.0/sod", task.task_id).status is TaskStatus.SUCCESS
    h.clock.advance(1)
    assert error_code(lambda: h.poll("v2.0/sod", task.task_id)) == "InvalidTaskId"


def test_an_unfinished_task_expires_a_day_after_creation(make: Make) -> None:
    h = make(MockConfig(progression=Progression(running_polls=None)))
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    h.clock.advance(DAY)
    assert error_code(lambda: h.poll("v2.0/sod", task.task_id)) == "InvalidTaskId"


def test_an_uploaded_file_expires_after_a_day(h: Harness) -> None:
    file_id = h.upload()
    h.clock.advance(DAY)
    assert error_code(lambda: h.create("v2.0/sod", {"src_file_id": file_id})) == (
        "InvalidParameters"
    )


def test_sweep_reclaims_expired_files_tasks_and_results(h: Harness) -> None:
    baseline = h.stored()
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    done = h.finish("v2.0/sod", task.task_id)
    h.upload()  # a file no task uses
    grown = h.stored()
    assert grown["files"] == 2 and grown["tasks"] == 1 and grown["assets"] >= 1
    assert grown["blob_bytes"] > 0

    h.clock.advance(DAY)
    removed = h.backend.sweep()

    assert removed["files"] == 2 and removed["tasks"] == 1
    assert h.stored() == baseline
    assert done.task_id not in {t.task_id for t in h.store.tasks()}


def test_retention_is_swept_lazily_as_requests_arrive(h: Harness) -> None:
    baseline = h.stored()
    h.upload()
    h.clock.advance(DAY)
    h.backend.authenticate(A)
    assert h.stored() == baseline


def test_vendor_retention_keeps_files_and_tasks_for_thirty_days(make: Make) -> None:
    config = MockConfig(retention="vendor")
    assert config.file_ttl == config.result_ttl == config.task_ttl == 30 * DAY
    h = make(config)
    file_id = h.upload()
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    h.finish("v2.0/sod", task.task_id)
    h.clock.advance(29 * DAY)
    assert h.poll("v2.0/sod", task.task_id).status is TaskStatus.SUCCESS
    assert h.create("v2.0/sod", {"src_file_id": file_id}).status is TaskStatus.RUNNING
    h.clock.advance(DAY)
    assert error_code(lambda: h.poll("v2.0/sod", task.task_id)) == "InvalidTaskId"


# ---------------------------------------------------------------------- request rules


@pytest.mark.parametrize(
    "actions",
    [["hd_wrinkle", "pore"], [], ["acne", "acne"]],
    ids=["mixed HD and SD", "none", "repeated"],
)
def test_skin_analysis_refuses_bad_dst_actions(h: Harness, actions: list[str]) -> None:
    file_id = h.upload()
    with pytest.raises(ApiError) as caught:
        h.create("v2.0/skin-analysis", {"src_file_id": file_id, "dst_actions": actions})
    assert caught.value.code == "InvalidParameters"
    assert "dst_actions" in caught.value.message
    assert h.stored()["tasks"] == 0


def test_an_unknown_template_id_is_an_invalid_style(h: Harness) -> None:
    file_id = h.upload()
    request = {"src_file_id": file_id, "template_id": "12345"}
    assert error_code(lambda: h.create("v2.0/hair-style", request)) == "InvalidStyle"
    request["template_id"] = h.backend.templates("hair-style", "v2.0")[3].id
    assert h.create("v2.0/hair-style", request).cost == 1


# ---------------------------------------------------------------------- engine errors


def test_a_registered_file_whose_bytes_never_arrived_ends_in_unknown_internal_error(
    h: Harness,
) -> None:
    task = h.create("v2.0/sod", {"src_file_id": h.upload(send=False)})
    done = h.finish("v2.0/sod", task.task_id)
    assert done.status is TaskStatus.ERROR
    assert done.error == "unknown_internal_error"
    assert done.results is None
    assert "src_file_id" in (done.error_message or "")


def test_a_url_the_emulator_does_not_serve_ends_in_error_download_image(h: Harness) -> None:
    task = h.create("v2.0/sod", {"src_file_url": NOWHERE})
    done = h.finish("v2.0/sod", task.task_id)
    assert (done.status, done.error) == (TaskStatus.ERROR, "error_download_image")


def test_an_unreachable_mask_url_ends_in_error_download_mask(h: Harness) -> None:
    task = h.create("v2.0/generative-fill", {"src_file_id": h.upload(), "msk_file_url": NOWHERE})
    assert h.finish("v2.0/generative-fill", task.task_id).error == "error_download_mask"


def test_an_unreachable_source_video_ends_in_the_nearest_code_its_document_allows(
    h: Harness,
) -> None:
    # No published video document enumerates error_download_video (FACTS.md lists it).
    assert "error_download_video" not in FEATURES["v2.0/face-swap-vid"].engine_error_codes
    task = h.create(
        "v2.0/face-swap-vid",
        {"src_file_url": NOWHERE, "ref_file_id": h.upload(), "dst_duration": 5},
    )
    assert h.finish("v2.0/face-swap-vid", task.task_id).error == "error_download_image"


def test_with_seed_engine_codes_an_unreachable_video_is_error_download_video(
    make: Make,
) -> None:
    h = make(MockConfig(engine_codes="seed"))
    task = h.create(
        "v2.0/face-swap-vid",
        {"src_file_url": NOWHERE, "ref_file_id": h.upload(), "dst_duration": 5},
    )
    assert h.finish("v2.0/face-swap-vid", task.task_id).error == "error_download_video"


def test_a_video_longer_than_the_feature_allows_does_not_succeed(make: Make) -> None:
    long_clip = media.render_video(None, seed=1, duration_s=31, fps=2, max_long=64)
    for codes, expected in (("seed", "error_unexpected_video_duration"), ("contract", None)):
        h = make(MockConfig(engine_codes=codes))
        task = h.create(
            "v2.0/face-swap-vid",
            {
                "src_file_id": h.upload(long_clip, "video/mp4"),
                "ref_file_id": h.upload(),
                "dst_duration": 5,
            },
        )
        done = h.finish("v2.0/face-swap-vid", task.task_id)
        assert done.status is TaskStatus.ERROR
        if expected is not None:
            assert done.error == expected
        else:
            assert done.error in FEATURES["v2.0/face-swap-vid"].engine_error_codes
        assert "30" in (done.error_message or "")


def test_a_url_the_emulator_serves_is_used_without_going_online(make: Make) -> None:
    served = {"https://cdn.example.com/me.jpg": jpeg(320, 240)}
    h = make(resolve_url=served.get)
    task = h.create("v2.0/enhance", {"src_file_url": "https://cdn.example.com/me.jpg", "scale": 2})
    done = h.finish("v2.0/enhance", task.task_id)
    assert done.status is TaskStatus.SUCCESS
    (result,) = h.asset_bytes(done.results)
    info = media.probe(result)
    assert (info.width, info.height) == (640, 480)


def test_bytes_that_are_not_an_image_end_in_error_decode_image(h: Harness) -> None:
    garbage = b"this is not a picture at all" * 10
    task = h.create("v2.0/sod", {"src_file_id": h.upload(garbage)})
    assert h.finish("v2.0/sod", task.task_id).error == "error_decode_image"


def test_a_truncated_jpeg_ends_in_error_decode_image(h: Harness) -> None:
    truncated = jpeg()[:300]
    task = h.create("v2.0/sod", {"src_file_id": h.upload(truncated)})
    assert h.finish("v2.0/sod", task.task_id).error == "error_decode_image"


def test_a_mask_that_is_not_an_image_ends_in_error_decode_mask(h: Harness) -> None:
    task = h.create(
        "v2.0/generative-fill",
        {"src_file_id": h.upload(), "msk_file_id": h.upload(b"not a mask" * 20, "image/png")},
    )
    assert h.finish("v2.0/generative-fill", task.task_id).error == "error_decode_mask"


def test_an_image_longer_than_4096_pixels_ends_in_error_exceed_max_image_size(
    h: Harness,
) -> None:
    spec = FEATURES["v2.0/skin-analysis"]
    assert "error_exceed_max_image_size" in spec.engine_error_codes
    big = jpeg(4097, 16)
    task = h.create("v2.0/skin-analysis", {"src_file_id": h.upload(big), "dst_actions": ["acne"]})
    assert h.finish("v2.0/skin-analysis", task.task_id).error == "error_exceed_max_image_size"


def test_an_image_of_exactly_4096_pixels_is_accepted(h: Harness) -> None:
    task = h.create("v2.0/face-swap/pre-process", {"src_file_id": h.upload(jpeg(4096, 16))})
    assert h.finish("v2.0/face-swap/pre-process", task.task_id).status is TaskStatus.SUCCESS


def test_an_oversized_image_uses_a_code_its_document_allows(h: Harness) -> None:
    spec = FEATURES["v2.0/sod"]
    assert "error_exceed_max_image_size" not in spec.engine_error_codes
    task = h.create("v2.0/sod", {"src_file_id": h.upload(jpeg(16, 4097))})
    assert h.finish("v2.0/sod", task.task_id).error in spec.engine_error_codes


def test_an_image_fetched_by_url_beyond_the_size_limit_ends_in_exceed_max_filesize(
    make: Make,
) -> None:
    served = {"https://cdn.example.com/big.jpg": jpeg()}
    h = make(MockConfig(max_image_bytes=1000), resolve_url=served.get)
    task = h.create("v2.0/sod", {"src_file_url": "https://cdn.example.com/big.jpg"})
    assert h.finish("v2.0/sod", task.task_id).error == "exceed_max_filesize"


def test_a_video_feature_given_a_picture_does_not_succeed(h: Harness) -> None:
    spec = FEATURES["v2.0/video-sr"]
    task = h.create("v2.0/video-sr", {"src_file_id": h.upload()})
    done = h.finish("v2.0/video-sr", task.task_id)
    assert done.status is TaskStatus.ERROR
    assert done.error in spec.engine_error_codes


def _file_feature_keys() -> list[str]:
    return sorted(
        k for k, s in FEATURES.items() if any(f.endswith(("_url", "_urls")) for f in s.file_fields)
    )


@pytest.mark.parametrize("key", _file_feature_keys())
def test_engine_errors_only_use_codes_the_feature_documents(h: Harness, key: str) -> None:
    spec: FeatureSpec = FEATURES[key]
    request: dict[str, Any] = {}
    for name in spec.file_fields:
        if name.endswith("_url"):
            request[name] = NOWHERE
        elif name.endswith("_urls"):
            request[name] = [NOWHERE]
    if key.endswith("skin-analysis"):
        request["dst_actions"] = ["acne"]
    task = h.backend.create_task(A, spec, request)
    done = h.backend.get_task(A, spec, task.task_id)
    done = h.backend.get_task(A, spec, task.task_id)
    assert done.status is TaskStatus.ERROR
    assert done.error in spec.engine_error_codes


# ---------------------------------------------------------------------- results


def test_the_same_seed_and_input_give_the_same_result_bytes(make: Make) -> None:
    def run(seed: int) -> list[bytes]:
        h = make(MockConfig(seed=seed))
        task = h.create("v2.0/bg-blur", {"src_file_id": h.upload(jpeg(320, 240))})
        return h.asset_bytes(h.finish("v2.0/bg-blur", task.task_id).results)

    first = run(11)
    assert first and run(11) == first
    assert run(12) != first


def test_different_inputs_give_different_results(h: Harness) -> None:
    def run(colour: tuple[int, int, int]) -> list[bytes]:
        task = h.create("v2.0/bg-blur", {"src_file_id": h.upload(jpeg(320, 240, colour))})
        return h.asset_bytes(h.finish("v2.0/bg-blur", task.task_id).results)

    assert run((10, 200, 30)) != run((200, 10, 30))


def test_a_result_asset_expires_with_the_results(h: Harness) -> None:
    task = h.create("v2.0/sod", {"src_file_id": h.upload()})
    (asset_id,) = asset_ids(h.finish("v2.0/sod", task.task_id).results)
    assert h.backend.get_asset(asset_id)[0].content_type == "image/png"
    h.clock.advance(DAY)
    assert error_code(lambda: h.backend.get_asset(asset_id)) == "NotFound"


def test_a_mask_upload_is_accepted_as_a_png(h: Harness) -> None:
    task = h.create(
        "v2.0/generative-fill",
        {"src_file_id": h.upload(), "msk_file_id": h.upload(png_mask(), "image/png")},
    )
    assert h.finish("v2.0/generative-fill", task.task_id).status is TaskStatus.SUCCESS


# ---------------------------------------------------------------------- templates and pages


def test_templates_are_a_stable_catalogue_with_ids_beyond_2_to_the_53(h: Harness) -> None:
    first = h.backend.templates("cloth", "v2.0")
    assert first == h.backend.templates("cloth", "v2.0")
    assert len({t.id for t in first}) == len(first) > 20
    assert all(t.id.isdigit() and int(t.id) > 2**53 for t in first)
    assert {t.id for t in first}.isdisjoint(t.id for t in h.backend.templates("fabric", "v2.0"))


def test_pages_follow_their_tokens_to_the_end_without_repeats() -> None:
    items = list(range(45))
    seen: list[int] = []
    token: str | None = None
    pages = 0
    while True:
        page, token = paginate(items, 20, token)
        seen.extend(page)
        pages += 1
        if token is None:
            break
    assert seen == items and pages == 3


@pytest.mark.parametrize("size", [0, 21, -1])
def test_a_page_size_outside_1_to_20_is_refused(size: int) -> None:
    assert error_code(lambda: paginate([1, 2], size, None)) == "InvalidParameters"


@pytest.mark.parametrize("token", ["!!!", "zzzz", "LTE", "bm90LWEtbnVtYmVy"])
def test_a_token_this_api_did_not_issue_is_refused(token: str) -> None:
    assert error_code(lambda: decode_token(token)) == "InvalidParameters"


def test_tokens_round_trip() -> None:
    assert decode_token(encode_token(40)) == 40


# ---------------------------------------------------------------------- feature costs and reset


def test_the_price_list_has_a_sku_for_every_priced_task_operation(h: Harness) -> None:
    skus = h.backend.feature_costs()
    paths = {s["path"] for s in skus}
    priced = {s.create_path for s in FEATURES.values() if s.pre_process_of is None}
    assert paths == priced
    assert {s["unit"] for s in skus} == {"result_image", "second"}
    skin = {s["amount"] for s in skus if s["path"] == "/s2s/v2.0/task/skin-analysis"}
    assert skin == {9, 12, 14, 16, 20, 22}


def test_reset_forgets_everything_and_restarts_the_ids(h: Harness) -> None:
    first = h.upload()
    h.create("v2.0/sod", {"src_file_id": first})
    h.backend.reset()
    assert h.stored()["tasks"] == h.stored()["files"] == 0
    assert h.units(A) == 100_000
    assert h.upload() == first
