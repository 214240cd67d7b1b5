"""The ``facility`` root: one lazy line per part's group, and no part imported for --help."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from facility.cli import GROUPS, cli
from maintenance.cli import pm, wo

PARTS = ("collectors", "dashboards", "device_profiles", "devtools", "gateway", "maintenance")


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_every_registered_group_resolves_to_its_command(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, click.Command)


def test_root_help_imports_no_part() -> None:
    code = (
        "import sys, json; from facility.cli import main\n"
        "try: main(['--help'])\n"
        "except SystemExit: pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert loaded.isdisjoint({*PARTS, "simulators"}), loaded & {*PARTS, "simulators"}


@pytest.mark.parametrize("name", ["pm", "wo"])
def test_maintenance_groups_are_registered_wired_to_the_plant(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert isinstance(command, pm.PlantGroup)
    assert command.plant is not None


def test_an_unwired_maintenance_command_is_a_wiring_bug_not_a_user_error() -> None:
    assert pm.group.plant is None  # wiring copies the group, it does not change it
    assert wo.group.plant is None
    with pytest.raises(RuntimeError, match="without the plant wired"):
        pm.plant(click.Context(pm.group))
