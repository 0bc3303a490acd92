"""Errors the records raise: each says what is wrong in words a user can act on."""

from __future__ import annotations


class RecordsError(Exception):
    """A records operation cannot be done (the message says why)."""


class DatabaseUnavailable(RecordsError):
    """The database cannot be reached or used."""


class NoDatabase(RecordsError):
    """There is no records database where one was named (and this command does not create one)."""


class SchemaOutOfDate(RecordsError):
    """The database's schema is older than this version of ScrapeGuard."""


class NotFound(RecordsError):
    pass


class PermissionDenied(RecordsError):
    """The acting user's role does not allow this."""


class InvalidStep(RecordsError):
    """A lifecycle step that is not allowed from the current state."""
