"""Configuration: file, environment overrides, and errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from facility.config import load_settings
from facility.errors import ConfigError


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.site.timezone == "Asia/Shanghai"
    assert settings.database_url == "sqlite:///var/facility.db"


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "facility.toml"
    path.write_text('[mqtt]\nurl = "mqtt://broker:1883"\n[collector]\nsites = ["HT"]\n')
    settings = load_settings(path, environ={"FACILITY_COLLECTOR__SITES": "JU, HY"})
    assert settings.mqtt.url == "mqtt://broker:1883"
    assert settings.collector.sites == ["JU", "HY"]


def test_secret_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={"FACILITY_MQTT__PASSWORD": "s3cret"})
    assert settings.mqtt.password == "s3cret"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("[simulator]\nspeed = -1\n", {}, "simulator.speed (or $FACILITY_SIMULATOR__SPEED)"),
        ("[simulatr]\nspeed = 1\n", {}, "simulatr"),
        ("[site]\nlatitude = 123\n", {}, "site.latitude"),
        ("[mqtt\n", {}, "not valid TOML"),
        ("", {"FACILITY_COLLECTOR__METRICS_PORT": "abc"}, "collector.metrics_port"),
    ],
)
def test_errors_name_file_and_key(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    path = tmp_path / "facility.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=env)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_example_file_is_valid_and_says_the_defaults() -> None:
    from facility.config import Settings

    example = Path(__file__).parents[2] / "facility.example.toml"
    assert load_settings(example, environ={}) == Settings()


def test_site_profile_folders_from_the_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "facility.toml"
    path.write_text('[profiles]\ndirs = ["/etc/facility/profiles"]\n')
    assert load_settings(path, environ={}).profiles.dirs == [Path("/etc/facility/profiles")]
    environ = {"FACILITY_PROFILES__DIRS": "/etc/facility/profiles:/srv/models"}
    assert load_settings(path, environ=environ).profiles.dirs == [
        Path("/etc/facility/profiles"),
        Path("/srv/models"),
    ]
