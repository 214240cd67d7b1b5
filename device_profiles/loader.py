"""Load profile YAML into frozen models; every error names file, line and field.

(Minimal version: the line-number mapping is being filled in.)
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from device_profiles.models import DeviceProfile
from facility.errors import Issue, ProfileError

LIBRARY_DIR = Path(__file__).parent / "library"


def load_profile(path: Path) -> DeviceProfile:
    """Load and validate one profile file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return DeviceProfile.model_validate(data)
    except yaml.YAMLError as exc:
        raise ProfileError([Issue(str(path), None, "", f"not valid YAML: {exc}")]) from None
    except ValidationError as exc:
        issues = [
            Issue(str(path), None, ".".join(str(p) for p in e["loc"]), e["msg"])
            for e in exc.errors()
        ]
        raise ProfileError(issues) from None


def load_library(directory: Path = LIBRARY_DIR) -> dict[str, DeviceProfile]:
    """Every profile in a directory, keyed by profile id."""
    profiles = {}
    for path in sorted(directory.glob("*.yaml")):
        profile = load_profile(path)
        profiles[profile.id] = profile
    return profiles
