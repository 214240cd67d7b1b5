"""Fuzzing the profile loader: any text in, a profile or located one-line issues out."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from device_profiles import LIBRARY_DIR
from device_profiles.loader import parse_profile
from device_profiles.models import DeviceProfile
from tests.unit.fuzz_support import FUZZ, assert_one_line

PUMP = (LIBRARY_DIR / "vfd-booster-pump.yaml").read_text(encoding="utf-8")
YAMLISH = st.text(alphabet="[]{}-:,&*!|>'\"#%@` \n\tabc01.<=?", max_size=300)


def check(text: str, file: str = "fuzz.yaml") -> None:
    profile, issues = parse_profile(text, file)
    if profile is not None:
        assert isinstance(profile, DeviceProfile)
        assert issues == []
        return
    assert issues
    for issue in issues:
        message = str(issue)
        assert message.startswith(file)
        assert_one_line(message)


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text(text: str) -> None:
    check(text)


@FUZZ
@given(YAMLISH)
def test_yaml_like_text(text: str) -> None:
    check(text)


@settings(FUZZ, max_examples=80)  # each example validates a whole profile
@given(st.integers(min_value=0, max_value=len(PUMP)), YAMLISH)
def test_shipped_profile_with_text_inserted(at: int, text: str) -> None:
    check(PUMP[:at] + text + PUMP[at:], "vfd-booster-pump.yaml")


@settings(FUZZ, max_examples=80)
@given(st.integers(min_value=0, max_value=len(PUMP) - 1), st.integers(min_value=1, max_value=200))
def test_shipped_profile_cut(at: int, length: int) -> None:
    check(PUMP[:at] + PUMP[at + length :], "vfd-booster-pump.yaml")
