"""Errors a user reads. Each carries a message in Chinese first, English after; interfaces map them to
a one-line CLI error or a 4xx response, never a traceback."""

from __future__ import annotations


class RiskmapError(Exception):
    """Base of every error caused by the user's input or data (not by a bug)."""

    http_status = 400

    def __init__(self, message: str, *, details: list | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


class InputError(RiskmapError):
    """A value outside what is allowed (e.g. an LEC value outside the profile's set)."""

    http_status = 422


class NotFoundError(RiskmapError):
    http_status = 404


class LayoutImportError(RiskmapError):
    """A layout file that cannot be imported; nothing was written."""

    http_status = 422


class GeoreferenceError(RiskmapError):
    http_status = 422


class LedgerError(RiskmapError):
    """A ledger with bad cells; `details` lists every problem (sheet, row, column, message)."""

    http_status = 422


class TooLargeError(RiskmapError):
    http_status = 413
