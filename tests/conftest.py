"""Shared fixtures. Area-specific fixtures live in their own modules, listed here."""

pytest_plugins: list[str] = [
    "tests.heroku_e2e",
    "tests.ops_fixtures",
    "tests.processes",
    "tests.brokers",
    "tests.spoj_server",
    "tests.web_data",
]
