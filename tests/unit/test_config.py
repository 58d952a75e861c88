"""MockConfig: one instance's settings, from code, mappings, files and the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from youcam_mock.core.config import DAY, DEFAULT_API_KEY, HOUR, MockConfig
from youcam_mock.core.lifecycle import Progression


def test_the_defaults_follow_the_seed_document() -> None:
    config = MockConfig()
    assert config.api_keys == (DEFAULT_API_KEY,)
    assert config.retention == "seed"
    assert config.file_ttl == config.result_ttl == config.task_ttl == DAY
    assert config.result_link_ttl == 2 * HOUR
    assert config.max_image_bytes == 10 * 1024 * 1024
    assert config.max_video_bytes == 100 * 1024 * 1024
    assert config.progression == Progression(running_polls=1)
    assert config.allow_outbound_downloads is False
    assert config.polling_interval is None


def test_vendor_retention_keeps_everything_thirty_days() -> None:
    config = MockConfig(retention="vendor")
    assert config.file_ttl == config.result_ttl == config.task_ttl == 30 * DAY


def test_an_unknown_retention_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="retention"):
        MockConfig(retention="forever")


def test_with_changes_returns_a_new_config_and_coerces_values() -> None:
    base = MockConfig()
    changed = base.with_changes(
        api_keys=["a", "b"], inactive_keys="c", progression={"running_polls": 3}
    )
    assert changed.api_keys == ("a", "b")
    assert changed.inactive_keys == ("c",)
    assert changed.progression == Progression(running_polls=3)
    assert base.api_keys == (DEFAULT_API_KEY,)


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown setting"):
        MockConfig().with_changes(no_such_setting=5)


def test_from_env_reads_prefixed_json_and_comma_separated_keys() -> None:
    config = MockConfig.from_env(
        {
            "YOUCAM_MOCK_API_KEYS": "k1,k2",
            "YOUCAM_MOCK_SEED": "3",
            "YOUCAM_MOCK_RETENTION": "vendor",
            "YOUCAM_MOCK_PROGRESSION": '{"running_polls": null, "seconds": 30}',
            "YOUCAM_MOCK_ALLOW_OUTBOUND_DOWNLOADS": "true",
            "OTHER_SEED": "9",
        }
    )
    assert config.api_keys == ("k1", "k2")
    assert config.seed == 3
    assert config.retention == "vendor"
    assert config.progression == Progression(running_polls=None, seconds=30)
    assert config.allow_outbound_downloads is True


def test_from_file_reads_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "mock.json"
    path.write_text(json.dumps({"units": 5, "expired_keys": ["old"]}), encoding="utf-8")
    config = MockConfig.from_file(path)
    assert config.units == 5
    assert config.expired_keys == ("old",)


def test_to_dict_is_json_ready_and_keeps_secrets_out() -> None:
    config = MockConfig(secret_key="s3cret", admin_token="t0ken", api_keys=("a",))
    data = config.to_dict()
    json.dumps(data)
    assert "secret_key" not in data and "admin_token" not in data
    assert data["api_keys"] == ["a"]
    assert data["progression"] == {"running_polls": 1, "seconds": None, "mode": "all"}


def test_a_config_survives_a_round_trip_through_its_dict() -> None:
    config = MockConfig(seed=4, progression=Progression(running_polls=None, seconds=9))
    assert MockConfig.from_mapping(config.to_dict()) == config


def test_engine_codes_stay_inside_the_contract_unless_asked_for_the_seed_table() -> None:
    assert MockConfig().engine_codes == "contract"
    assert MockConfig(engine_codes="seed").engine_codes == "seed"
    with pytest.raises(ValueError, match="engine_codes"):
        MockConfig(engine_codes="anything")
