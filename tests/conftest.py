"""Shared fixtures. Database fixtures live in tests/db_fixtures.py."""

pytest_plugins = ["tests.db_fixtures"]
