"""Shared fixtures. Area-specific fixtures live in their own modules, listed here."""

pytest_plugins: list[str] = ["tests.processes"]
