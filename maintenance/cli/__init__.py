"""Maintenance's commands: ``facility ledger``, ``facility pm``, ``facility wo``.

``pm`` and ``wo`` read the plant through a factory the level above gives them
(``gateway/cli/plant.py``); the ``facility`` root registers those wired groups.
"""
