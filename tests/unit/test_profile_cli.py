"""``facility profiles check|list|doc`` through click, and once through the installed command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from device_profiles import LIBRARY_DIR, load_library
from device_profiles.doc import render_docs
from facility.cli import cli, main

BROKEN = """\
schema_version: 1
id: broken
device_class: PMP
vendor: Test
model: Test
label: {en: Pump, zh: 水泵}
protocol: modbus
points:
  - name: pressure
    label: {en: Pressure, zh: 压力}
    unit: bar
    modbus: {table: input, address: 0, type: float}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """An empty facility.toml, so a developer's own one cannot change the result."""
    path = tmp_path / "facility.toml"
    path.write_text("")
    return path


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    return path


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "profiles", *args])
    return result.exit_code, result.output


def test_check_passes_on_the_shipped_library(config: Path) -> None:
    assert run(config, "check") == (0, "5 profiles OK\n")


def test_check_fails_on_a_broken_profile_with_located_messages(
    config: Path, broken: Path, tmp_path: Path
) -> None:
    (tmp_path / "lib").mkdir()
    code, output = run(config, "check", str(broken), str(tmp_path / "lib"))
    assert code == 1
    assert output.splitlines() == [
        f"{broken}:12: points[0] (pressure).modbus.type: unknown data type 'float' (did you "
        "mean float32 or float64?); expected one of: bool, int16, uint16, int32, uint32, int64, "
        "uint64, float32, float64, string, bit, bitfield",
        f"{tmp_path / 'lib'}: no profile files (*.yaml) here",
        "2 errors in 2 file(s); 0 of 1 profiles OK",
    ]


def test_list(config: Path) -> None:
    code, output = run(config, "list")
    assert code == 0
    assert output.splitlines()[0].split() == [
        "id",
        "class",
        "protocol",
        "points",
        "alarms",
        "pm_plans",
    ]
    assert output.splitlines()[4].split() == ["vfd-booster-pump", "PMP", "modbus", "16", "5", "2"]


def test_list_of_a_broken_profile_is_one_clear_error(
    config: Path, broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(config), "profiles", "list", str(broken)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"error: {broken}:12: points[0] (pressure).modbus.type: unknown data type"
    )
    assert "Traceback" not in err


def test_doc_writes_checks_and_prunes(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "devices"
    assert run(config, "doc", "--out", str(out)) == (0, f"6 of 6 files written to {out}\n")
    expected = render_docs(load_library())
    assert {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()} == expected
    assert run(config, "doc", "--out", str(out), "--check") == (0, f"6 files in {out} up to date\n")

    (out / "vfd-booster-pump.md").write_text("edited by hand\n")
    (out / "retired-device.md").write_text(expected["README.md"])  # carries the generated mark
    (out / "notes.md").write_text("my own notes\n")
    code, output = run(config, "doc", "--out", str(out), "--check")
    assert code == 1
    assert output.splitlines() == [
        f"{out / 'vfd-booster-pump.md'}: out of date; run `facility profiles doc --out {out}`",
        f"{out / 'retired-device.md'}: no such profile any more; remove the file",
    ]
    assert run(config, "doc", "--out", str(out)) == (
        0,
        f"1 of 6 files written to {out}, 1 removed\n",
    )
    assert sorted(p.name for p in out.iterdir()) == sorted([*expected, "notes.md"])


def test_installed_command_exits_1_with_the_location(broken: Path, config: Path) -> None:
    command = Path(sys.executable).with_name("facility")
    result = subprocess.run(
        [str(command), "--config", str(config), "profiles", "check", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.startswith(f"{broken}:12: points[0] (pressure).modbus.type: ")
    assert result.stderr == ""


# -- site profile folders ([profiles] dirs) ----------------------------------------------------

SHIPPED_PUMP = load_library()["vfd-booster-pump"]


def site_model(folder: Path, profile_id: str = "acme-booster-pump") -> Path:
    """A site's own device model: the shipped pump under another id, as a user would start."""
    text = (LIBRARY_DIR / "vfd-booster-pump.yaml").read_text(encoding="utf-8")
    path = folder / f"{profile_id}.yaml"
    path.write_text(text.replace("id: vfd-booster-pump", f"id: {profile_id}"), encoding="utf-8")
    return path


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site-profiles"
    folder.mkdir()
    return folder


@pytest.fixture
def site_config(tmp_path: Path, site: Path) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(f'[profiles]\ndirs = ["{site}"]\n')
    return path


def test_a_site_folder_adds_models_to_check_list_and_doc(
    site_config: Path, site: Path, tmp_path: Path
) -> None:
    assert run(site_config, "check") == (0, "5 profiles OK\n")  # an empty site folder is fine
    site_model(site)
    assert run(site_config, "check") == (0, "6 profiles OK\n")
    code, output = run(site_config, "list")
    assert code == 0
    assert ["acme-booster-pump", "PMP", "modbus", "16", "5", "2"] in [
        line.split() for line in output.splitlines()
    ]
    out = tmp_path / "devices"
    assert run(site_config, "doc", "--out", str(out)) == (0, f"7 of 7 files written to {out}\n")
    assert (out / "acme-booster-pump.md").is_file()


def test_a_site_model_with_a_shipped_id_is_an_error_naming_both_files(
    site_config: Path, site: Path
) -> None:
    copy = site_model(site, "vfd-booster-pump")
    code, output = run(site_config, "check")
    assert code == 1
    assert output.splitlines()[0] == (
        f"{copy}: id: profile id 'vfd-booster-pump' is also used by "
        "device_profiles/library/vfd-booster-pump.yaml; expected each id once"
    )


def test_bad_yaml_in_a_site_folder_gets_the_librarys_located_message(
    site_config: Path, site: Path
) -> None:
    (site / "broken.yaml").write_text(BROKEN)
    code, output = run(site_config, "check")
    assert code == 1
    assert output.splitlines()[0].startswith(
        f"{site / 'broken.yaml'}:12: points[0] (pressure).modbus.type: unknown data type 'float'"
    )


def test_a_site_folder_that_does_not_exist_is_named(tmp_path: Path) -> None:
    config = tmp_path / "missing.toml"
    config.write_text(f'[profiles]\ndirs = ["{tmp_path / "nowhere"}"]\n')
    assert run(config, "check") == (
        1,
        f"{tmp_path / 'nowhere'}: no such file or directory\n"
        "1 error in 1 file(s); 5 of 5 profiles OK\n",
    )


def test_the_library_and_the_collectors_reload_read_the_site_folders(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_library() is what every part (and the collector's hot reload, every
    reload_every_s) loads: a model added to a site folder is there on the next call."""
    assert "acme-booster-pump" not in load_library(site_dirs=[site])
    site_model(site)
    assert load_library(site_dirs=[site])["acme-booster-pump"].points == SHIPPED_PUMP.points
    # without site_dirs: the configuration's (here from the environment)
    monkeypatch.setenv("FACILITY_PROFILES__DIRS", str(site))
    monkeypatch.setattr("facility.config._ACTIVE", [])
    assert "acme-booster-pump" in load_library()
