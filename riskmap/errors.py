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


def no_enterprise(name) -> NotFoundError:
    """The one wording for an enterprise the database lacks (names cut to 100 characters)."""
    shown = str(name)[:100]
    return NotFoundError(f"没有名为 “{shown}” 的企业 / no enterprise named {shown!r}")


def no_enterprise_yet() -> NotFoundError:
    return NotFoundError("数据库中还没有企业，请先导入布置图和台账 / no enterprise in the database yet")


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


class AlreadyExistsError(InputError):
    """An item to create (or restore) exists already: a client-chosen id in use, a feature not deleted."""

    http_status = 409


class PreconditionRequired(RiskmapError):
    """A write without If-Match: the client must read the item (and its ETag) first, so no update is lost."""

    http_status = 428

    def __init__(self, message: str | None = None, **kwargs):
        super().__init__(message or "修改需要 If-Match 头（先读取要素获得 ETag）/ If-Match is required: read the item "
                                    "first to get its ETag", **kwargs)


class EditConflict(RiskmapError):
    """A write whose If-Match names a version that is no longer current; `current` is the item as it is now
    ({"id", "edit_tag", "feature", "changed_at", "changed_by", "reason"}; feature None when deleted)."""

    http_status = 412

    def __init__(self, message: str | None = None, *, current: dict | None = None, **kwargs):
        tag = current.get("edit_tag") if current else None
        super().__init__(message or f"该要素已被他人修改（当前版本 {tag}）/ the feature was changed by someone else "
                                    f"(current version {tag})", **kwargs)
        self.current = current


class AuthError(RiskmapError):
    http_status = 401

    def __init__(self, message: str | None = None, **kwargs):
        super().__init__(message or "需要编辑令牌（Authorization: Bearer …）/ an editor token is required "
                                    "(Authorization: Bearer …)", **kwargs)


class ForbiddenError(RiskmapError):
    http_status = 403

    def __init__(self, message: str | None = None, **kwargs):
        super().__init__(message or "该令牌无权修改 / this token may not make changes", **kwargs)


class StoreError(RiskmapError):
    """The database failed (locked too long, disk full, server gone): not the user's data."""

    http_status = 503


class BadBodyError(RiskmapError):
    """A request body that is not JSON at all."""

    http_status = 400


class MediaTypeError(RiskmapError):
    """A body of a media type the route does not take."""

    http_status = 415


class NotWritableError(RiskmapError):
    """A write aimed at ?at= (the past is read only) or a PUT of a unit."""

    http_status = 405
