"""The collectors' commands: ``facility collect`` and ``facility probe``."""
