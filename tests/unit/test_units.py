"""Unit pricing read from the vendor's 'Unit Consumption' tables (youcam_mock.core.units)."""

from __future__ import annotations

import pytest

from youcam_mock.contract import load_contract
from youcam_mock.core.features import FeatureSpec
from youcam_mock.core.units import Price, parse_row, price_for, task_cost

FEATURES = load_contract().features
ALL_ROWS = sorted({row for spec in FEATURES.values() for row in spec.unit_rows})
HD_ACTIONS = ["hd_wrinkle", "hd_pore", "hd_texture", "hd_acne", "hd_oiliness", "hd_radiance"]
SD_ACTIONS = ["wrinkle", "pore", "texture", "acne", "oiliness", "radiance", "eye_bag", "redness"]
ALL_SD = [
    *SD_ACTIONS,
    "age_spot",
    "dark_circle_v2",
    "droopy_upper_eyelid",
    "droopy_lower_eyelid",
    "firmness",
    "moisture",
    "tear_trough",
    "skin_type",
]


def spec(key: str) -> FeatureSpec:
    return FEATURES[key]


# ---------------------------------------------------------------------- every row in the contract


def test_the_contract_has_unit_rows_to_parse() -> None:
    assert len(ALL_ROWS) > 50


@pytest.mark.parametrize(("item", "units"), ALL_ROWS, ids=[f"{i}: {u}" for i, u in ALL_ROWS])
def test_every_unit_row_in_the_contract_parses(item: str, units: str) -> None:
    price = parse_row(item, units)
    assert price.amount > 0
    assert price.unit in ("result_image", "second")
    assert price.per >= 1


@pytest.mark.parametrize("key", sorted(FEATURES))
def test_every_task_operation_has_a_price_and_pre_processing_is_free(key: str) -> None:
    feature = spec(key)
    price = price_for(feature)
    if feature.pre_process_of is not None:
        assert price is None
        assert task_cost(feature, {}) == 0
    else:
        assert price is not None
        assert 1 <= price.amount <= 22


def test_video_features_are_priced_per_second() -> None:
    for key, feature in FEATURES.items():
        if feature.input == "video" or key.endswith("to-video/youcam"):
            price = price_for(feature)
            assert price is not None and price.unit == "second", key


# ---------------------------------------------------------------------- row shapes


def test_a_bare_number_is_a_fixed_price() -> None:
    assert parse_row("AI Photo Enhance V1.0", "2") == Price(2.0)


def test_units_for_n_images_is_a_price_per_batch_of_images() -> None:
    price = parse_row("AI Avatar Generator V3.0", "1 unit for 4 images *")
    assert (price.amount, price.unit, price.per) == (1.0, "result_image", 4)


def test_units_for_n_seconds_is_a_price_per_second_block() -> None:
    price = parse_row("AI Video Face Swap V1.0", "1 (5 seconds) *")
    assert (price.amount, price.unit, price.per) == (1.0, "second", 5)


def test_resolution_rows_price_each_resolution_per_second() -> None:
    price = parse_row(
        "AI Video Generator (Image to Video) V2.0",
        "1 unit (480p / 1 second(s)) *; 2 units (720p / 1 second(s)) *; "
        "3 units (1080p / 1 second(s)) *",
    )
    assert price.unit == "second"
    assert price.variants == {"480": 1.0, "720": 2.0, "1080": 3.0}
    assert price.amount == 1.0


def test_a_concern_tier_row_prices_sd_and_hd() -> None:
    price = parse_row("5~8 concerns analysis", "12 units for SD; 16 units for HD")
    assert price.tiers == ((5, 8, 12.0, 16.0),)


def test_a_tier_row_with_a_single_number_prices_sd_and_hd_alike() -> None:
    price = parse_row("6~14 Face Structure Features", "20")
    assert price.tiers == ((6, 14, 20.0, 20.0),)


def test_named_alternatives_become_variants() -> None:
    price = parse_row(
        "AI Bracelet Virtual Try-On V1.0", "1 Unit for Single-item wear; 2 Units for Stacked wear"
    )
    assert price.variants == {"single-item wear": 1.0, "stacked wear": 2.0}
    assert price.amount == 1.0


def test_a_row_of_unknown_shape_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="unknown unit row shape"):
        parse_row("Some Feature V9", "free on Tuesdays")


# ---------------------------------------------------------------------- what a task costs


@pytest.mark.parametrize(
    ("actions", "cost"),
    [
        (SD_ACTIONS[:1], 9),
        (SD_ACTIONS[:4], 9),
        (SD_ACTIONS[:5], 12),
        (HD_ACTIONS[:4], 12),
        (HD_ACTIONS[:5], 16),
        (ALL_SD[:9], 14),
        (ALL_SD[:13], 16),
        (ALL_SD, 16),
    ],
)
def test_skin_analysis_costs_depend_on_how_many_concerns_and_on_hd(
    actions: list[str], cost: int
) -> None:
    for key in ("v2.0/skin-analysis", "v2.1/skin-analysis"):
        assert task_cost(spec(key), {"dst_actions": actions}) == cost


def test_face_attribute_analysis_costs_depend_on_how_many_features() -> None:
    feature = spec("v2.0/face-attr-analysis")
    names = [f"f{i}" for i in range(28)]
    assert task_cost(feature, {"features": names[:5]}) == 10
    assert task_cost(feature, {"features": names[:6]}) == 20
    assert task_cost(feature, {"features": names[:28]}) == 30


def test_skin_simulation_counts_only_the_concerns_switched_on() -> None:
    feature = spec("v2.0/skin-simulation")
    four_on = {"acne": 1, "wrinkle": 0.5, "pores": 1, "redness": 1}
    assert task_cost(feature, four_on) == 4
    assert task_cost(feature, {**four_on, "spots": 0, "texture": 0, "radiance": 0}) == 4
    assert task_cost(feature, {**four_on, "spots": 1}) == 6


@pytest.mark.parametrize(("seconds", "cost"), [(0.5, 1), (5, 1), (5.01, 2), (7, 2), (30, 6)])
def test_video_face_swap_costs_one_unit_per_started_five_seconds(seconds: float, cost: int) -> None:
    assert task_cost(spec("v2.0/face-swap-vid"), {}, duration_s=seconds) == cost


def test_per_second_prices_multiply_by_the_seconds() -> None:
    assert task_cost(spec("v2.0/video-trans"), {}, duration_s=3) == 12
    assert task_cost(spec("v2.0/video-sr"), {}, duration_s=3) == 2


def test_a_generator_without_an_input_video_is_charged_for_the_requested_duration() -> None:
    feature = spec("v2.0/text-to-video/youcam")
    assert task_cost(feature, {"resolution": "1080", "dst_duration": 10}) == 30
    assert task_cost(feature, {"resolution": "720", "dst_duration": 5}) == 10


def test_image_to_video_charges_by_resolution() -> None:
    feature = spec("v2.0/image-to-video/youcam")
    assert task_cost(feature, {"resolution": "480", "dst_duration": 5}) == 5
    assert task_cost(feature, {"resolution": "720p", "dst_duration": 5}) == 10
    assert task_cost(feature, {"resolution": "1080", "dst_duration": 10}) == 30


def test_image_to_video_charges_the_professional_rate_in_pro_mode() -> None:
    feature = spec("v2.0/image-to-video")
    assert task_cost(feature, {"dst_duration": 5}) == 15
    assert task_cost(feature, {"dst_duration": 5, "mode": "std"}) == 15
    assert task_cost(feature, {"dst_duration": 5, "mode": "pro"}) == 30


@pytest.mark.parametrize(("count", "cost"), [(1, 1), (4, 1), (5, 2), (8, 2), (9, 3), (200, 50)])
def test_avatar_costs_one_unit_per_started_four_images(count: int, cost: int) -> None:
    assert task_cost(spec("v2.0/ai-avatar"), {}, output_count=count) == cost


def test_studio_and_headshot_cost_one_unit_per_started_two_images() -> None:
    assert task_cost(spec("v2.0/ai-studio"), {}, output_count=3) == 2
    assert task_cost(spec("v2.0/headshot"), {}, output_count=2) == 1


@pytest.mark.parametrize("key", ["v2.0/2d-vto/ring", "v2.0/2d-vto/bracelet", "v2.0/2d-vto/earring"])
def test_stacked_wear_costs_two_and_single_item_wear_one(key: str) -> None:
    one = {"object_infos": [{"name": "a.jpg"}]}
    two = {"object_infos": [{"name": "a.jpg"}, {"name": "b.jpg"}]}
    assert task_cost(spec(key), one) == 1
    assert task_cost(spec(key), two) == 2


def test_single_item_only_jewellery_never_charges_stacked_wear() -> None:
    two = {"object_infos": [{"name": "a.jpg"}, {"name": "b.jpg"}]}
    assert task_cost(spec("v2.0/2d-vto/watch"), two) == 1


def test_hair_style_preset_mode_costs_one_and_custom_mode_two() -> None:
    feature = spec("v2.0/hair-style")
    assert task_cost(feature, {"template_id": "123"}) == 1
    assert task_cost(feature, {"prompt": "a bob"}) == 2


def test_hair_transfer_v2_1_costs_two_either_way() -> None:
    feature = spec("v2.1/hair-transfer")
    assert task_cost(feature, {"template_id": "123"}) == 2
    assert task_cost(feature, {}) == 2


def test_multi_row_tables_price_each_version_by_its_own_row() -> None:
    assert task_cost(spec("v2.0/text-to-image"), {}) == 2
    assert task_cost(spec("v2.0/text-to-image/youcam"), {}) == 1
    assert task_cost(spec("v2.0/cloth"), {}) == 2


def test_a_fixed_price_ignores_the_output_count() -> None:
    assert task_cost(spec("v2.0/sod"), {}, output_count=5) == 1
    assert task_cost(spec("v2.0/skin-tone-analysis"), {}) == 20
