"""Shared core of the facility system: configuration, domain types, errors and the CLI."""

__version__ = "0.1.0"
