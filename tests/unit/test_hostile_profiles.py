"""Hostile device profiles: refused with one located line, before anything is built.

Before: 100 KB of ``[`` segfaulted the process (libyaml's composer recurses), a 378-byte
"billion laughs" document hung for minutes, a 3,000-deep mapping gave a 3,000-line
RecursionError traceback, and an impossible date or a 5,000-digit number escaped as a bare
ValueError.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from device_profiles import load_profile
from device_profiles.loader import parse_profile
from facility.errors import ProfileError
from facility.limits import (
    PROFILE_MAX_ALIASES,
    PROFILE_MAX_BYTES,
    PROFILE_MAX_DEPTH,
    PROFILE_MAX_VALUES,
)

ROOT = Path(__file__).resolve().parents[2]

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def one_error(path: Path) -> str:
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert len(caught.value.issues) == 1, message
    assert "\n" not in message
    return message


def test_100_kb_of_brackets_is_refused_not_a_segfault(tmp_path: Path) -> None:
    path = tmp_path / "brackets.yaml"
    path.write_text("[" * 100_000)
    # In a child process: a segfault there is a failed assertion here, not a dead pytest.
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from device_profiles import load_profile
        from facility.errors import ProfileError
        try:
            load_profile(Path({str(path)!r}))
        except ProfileError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-500:]}"
    assert done.stdout.strip() == (
        f"{path}:1: nesting deeper than {PROFILE_MAX_DEPTH} levels; "
        f"expected at most {PROFILE_MAX_DEPTH} (a device profile needs fewer than 10)"
    )


@pytest.mark.timeout(20)
def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(BILLION_LAUGHS)
    assert len(BILLION_LAUGHS.encode()) < 400
    message = one_error(path)
    assert message.startswith(f"{path}:6: aliases expand the file to more than ")
    assert f"{PROFILE_MAX_VALUES:,} values" in message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", id="flow"),
        pytest.param(
            "".join(" " * i + "a:\n" for i in range(3000)) + " " * 3000 + "b: 1\n", id="block"
        ),
        pytest.param("- " * 3000 + "1\n", id="block-list"),
    ],
)
def test_3000_deep_mapping_is_one_located_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text[:PROFILE_MAX_BYTES])  # the block form would be 4.5 MB
    message = one_error(path)
    assert message.startswith(f"{path}:")
    assert message.endswith(
        f": nesting deeper than {PROFILE_MAX_DEPTH} levels; expected at most "
        f"{PROFILE_MAX_DEPTH} (a device profile needs fewer than 10)"
    )


def test_nesting_through_an_alias_counts(tmp_path: Path) -> None:
    deep = "{a: " * 20 + "1" + "}" * 20
    path = tmp_path / "alias-deep.yaml"
    path.write_text(f"x: &x {deep}\ny: {'[' * 15}*x{']' * 15}\n")
    assert one_error(path).startswith(f"{path}:2: nesting deeper than ")


def test_too_many_aliases(tmp_path: Path) -> None:
    path = tmp_path / "aliases.yaml"
    items = ", ".join(["*a"] * (PROFILE_MAX_ALIASES + 1))
    path.write_text(f"a: &a 1\nb: [{items}]\n")
    assert one_error(path) == (
        f"{path}:2: more than {PROFILE_MAX_ALIASES} aliases (*a); "
        f"expected at most {PROFILE_MAX_ALIASES}"
    )


def test_a_few_aliases_are_fine() -> None:
    _, issues = parse_profile("a: &a {x: 1}\nb: *a\nc: *a\n", "few.yaml")
    assert all("alias" not in i.message for i in issues)


def test_too_large_file_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (PROFILE_MAX_BYTES + 1))
    assert one_error(path) == (
        f"{path}: {PROFILE_MAX_BYTES + 1:,} bytes; expected at most {PROFILE_MAX_BYTES:,} "
        "(a device profile is ~10 KB)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-13-01", "month must be in 1..12"),
        ("1" * 5000, "integer string conversion"),
    ],
)
def test_values_yaml_cannot_build_are_located(value: str, expected: str) -> None:
    _, issues = parse_profile(f"schema_version: 1\nvendor: {value}\n", "odd.yaml")
    found = [str(i) for i in issues if i.field == "vendor"]
    assert len(found) == 1
    assert found[0].startswith("odd.yaml:2: vendor: ")
    assert expected in found[0]
