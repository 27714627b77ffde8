"""Errors a user reads. Each carries a message in Chinese first, English after; interfaces map them to
a one-line CLI error or a 4xx response, never a traceback.

A class states its HTTP status where it is declared (`class TooLargeError(RiskmapError, http_status=413)`),
and may state the message it carries when raised without one (`default_message=`)."""

from __future__ import annotations


class RiskmapError(Exception):
    """Base of every error caused by the user's input or data (not by a bug)."""

    http_status = 400
    default_message = "请求有误 / bad request"

    def __init_subclass__(cls, *, http_status: int | None = None, default_message: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if http_status is not None:
            cls.http_status = http_status
        if default_message is not None:
            cls.default_message = default_message

    def __init__(self, message: str | None = None, *, details: list | None = None):
        message = message or self.default_message
        super().__init__(message)
        self.message = message
        self.details = details or []


class InputError(RiskmapError, http_status=422):
    """A value outside what is allowed (e.g. an LEC value outside the profile's set)."""


class NotFoundError(RiskmapError, http_status=404):
    """No such enterprise, item, version or layer."""


def no_enterprise(name) -> NotFoundError:
    """The one wording for an enterprise the database lacks (names cut to 100 characters)."""
    shown = str(name)[:100].replace("\x00", "\\0")
    return NotFoundError(f"没有名为 “{shown}” 的企业 / no enterprise named {shown!r}")


def no_enterprise_yet() -> NotFoundError:
    """The one wording for an empty database when no enterprise was named: import a layout and a ledger first."""
    return NotFoundError("数据库中还没有企业，请先导入布置图和台账 / no enterprise in the database yet")


class LayoutImportError(RiskmapError, http_status=422):
    """A layout file that cannot be imported; nothing was written."""


class GeoreferenceError(RiskmapError, http_status=422):
    """Control points or a CRS that cannot place the plan on the earth."""


class LedgerError(RiskmapError, http_status=422):
    """A ledger with bad cells; `details` lists every problem (sheet, row, column, message)."""


class TooLargeError(RiskmapError, http_status=413):
    """A body, file or drawing over its limit: refused before it costs memory."""


class AlreadyExistsError(InputError, http_status=409):
    """An item to create (or restore) exists already: a client-chosen id in use, a feature not deleted."""


class PreconditionRequired(RiskmapError, http_status=428,
                           default_message="修改需要 If-Match 头（先读取要素获得 ETag）/ If-Match is required: "
                                           "read the item first to get its ETag"):
    """A write without If-Match: the client must read the item (and its ETag) first, so no update is lost."""


class EditConflict(RiskmapError, http_status=412):
    """A write whose If-Match names a version that is no longer current; `current` is the item as it is now
    ({"id", "edit_tag", "feature", "changed_at", "changed_by", "reason"}; feature None when deleted)."""

    def __init__(self, message: str | None = None, *, current: dict | None = None, **kwargs):
        tag = current.get("edit_tag") if current else None
        super().__init__(message or f"该要素已被他人修改（当前版本 {tag}）/ the feature was changed by someone else "
                                    f"(current version {tag})", **kwargs)
        self.current = current


class AuthError(RiskmapError, http_status=401,
                default_message="需要编辑令牌（Authorization: Bearer …）/ an editor token is required "
                                "(Authorization: Bearer …)"):
    """No credentials, or ones that are not valid."""


class ForbiddenError(RiskmapError, http_status=403, default_message="该令牌无权修改 / this token may not make changes"):
    """Valid credentials without the right for this action."""


class LockedError(RiskmapError, http_status=429,
                  default_message="登录失败次数过多，请稍后再试 / too many failed sign-ins: try again later"):
    """Sign-in refused for a while after too many failures for this account or from this address."""


class StoreError(RiskmapError, http_status=503):
    """The database failed (locked too long, disk full, server gone): not the user's data."""


class BadBodyError(RiskmapError, http_status=400):
    """A request body that is not JSON at all."""


class MediaTypeError(RiskmapError, http_status=415):
    """A body of a media type the route does not take."""


class NotWritableError(RiskmapError, http_status=405):
    """A write aimed at ?at= (the past is read only) or a PUT of a unit."""
