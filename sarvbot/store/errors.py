"""Exceptions raised by the store."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for every error the store raises on purpose."""


class DatabaseUnavailable(StoreError):
    """The database cannot be reached or refused to work (gone, locked, down).

    The message names the database with its password masked and never includes it.
    """


class DatabaseUrlError(StoreError):
    """The database URL cannot be used: not a URL, a database sarvbot does not run on, or
    a driver that is not installed. The message never repeats the URL.
    """


class DatabaseBehind(StoreError):
    """The database schema is not at the revision this code expects."""
