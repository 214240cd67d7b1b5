"""Golden cases of broken profiles: each folder holds ``profile.yaml`` and ``expected.txt``.

``expected.txt`` is the exact output of the checker for that file, one
``profile.yaml:line: field: message`` per line (empty: the profile is valid). To add a case,
make a folder named after the mistake it covers, write the profile, and write the lines a
user should read — then make the checker say them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from device_profiles.loader import validate_profile

CASES_DIR = Path(__file__).parent / "profile_cases"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "profile.yaml").is_file())

# The kinds of mistake the checker is promised to locate (issue 2); each has its case.
REQUIRED = {
    "unknown-data-type",
    "address-out-of-range",
    "address-past-65535",
    "overlapping-registers",
    "missing-unit",
    "bad-word-order",
    "duplicate-point-names",
    "duplicate-yaml-key",
    "bool-in-holding-table",
    "bit-without-bit-number",
    "string-without-length",
    "alarm-on-unknown-point",
    "meter-trigger-on-non-counter",
    "scale-zero",
    "range-low-above-high",
    "yaml-syntax-error",
    "schema-version-future",
    "id-not-file-stem",
    "several-errors-at-once",
}


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case: str) -> None:
    folder = CASES_DIR / case
    profile, issues = validate_profile(folder / "profile.yaml")
    found = [str(dataclasses.replace(i, file=Path(i.file).name)) for i in issues]
    expected = (folder / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert found == expected
    assert (profile is None) == bool(expected)


def test_every_promised_kind_has_a_case() -> None:
    assert set(CASES) >= REQUIRED, sorted(REQUIRED - set(CASES))


@pytest.mark.parametrize("case", CASES)
def test_every_issue_is_located(case: str) -> None:
    """A line for every problem in a file that could be read (not for empty or missing files)."""
    _, issues = validate_profile(CASES_DIR / case / "profile.yaml")
    assert all(i.line is not None for i in issues), issues
