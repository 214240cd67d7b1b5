"""Shared settings for the hypothesis fuzz tests: reproducible (derandomized, no example
database on disk), a few hundred examples, no per-example deadline (the machine is shared)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# JSON values: what json.loads can give, nested a little
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def assert_one_line(message: str) -> None:
    """Every rejection is one clear line: not empty, no line break."""
    assert message.strip(), "empty rejection message"
    assert "\n" not in message, repr(message)
    assert "\r" not in message, repr(message)
