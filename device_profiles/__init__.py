"""Declarative device models (YAML) and the typed loader that validates them.

Never talks to a network. ``load_profile(path)`` returns a frozen ``DeviceProfile``;
``load_library()`` loads every shipped profile, keyed by profile id.
"""

from device_profiles.loader import LIBRARY_DIR, load_library, load_profile
from device_profiles.models import DeviceProfile, Point

__all__ = ["LIBRARY_DIR", "DeviceProfile", "Point", "load_library", "load_profile"]
