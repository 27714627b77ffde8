"""JSON from users, read strictly and safely: what every reader of user JSON (request bodies, GeoJSON layouts,
JSON ledgers) shares.

Python's reader accepts NaN and Infinity, which JSON does not, and recurses once per level of nesting, so a file of
100,000 brackets ends in a RecursionError; here both are refusals with a message (`JSONProblem`), as are bytes that
are not UTF-8 and nesting deeper than `max_depth` (measured without recursion).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class JSONProblem(ValueError):
    """Why a text is not acceptable JSON, as predicates in Chinese (`zh`) and English (`en`) that `about` puts
    after the name of what was read; `kind` is "encoding", "syntax", "constant" (NaN or Infinity) or "depth"."""

    def __init__(self, kind: str, zh: str, en: str):
        super().__init__(f"JSON {zh} / JSON {en}")
        self.kind, self.zh, self.en = kind, zh, en

    def about(self, what_zh: str, what_en: str) -> str:
        """The message for a reader: e.g. about("请求体", "the body")."""
        return f"{what_zh}{self.zh} / {what_en} {self.en}"


class _Constant(ValueError):
    pass


def _constant(name: str):
    raise _Constant(name)


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of `data` (bytes are UTF-8, a BOM allowed); JSONProblem when it is not acceptable."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JSONProblem("encoding", f"不是 UTF-8 编码的文本（第 {exc.start} 字节）",
                              f"is not UTF-8 text (byte {exc.start})") from None
    try:
        value = json.loads(data, parse_constant=_constant)
    except _Constant as exc:
        raise JSONProblem("constant", f"含有 {exc}，JSON 不允许 NaN 或 Infinity",
                          f"contains {exc}, which JSON does not allow") from None
    except RecursionError:
        raise _too_deep(max_depth) from None
    except json.JSONDecodeError as exc:
        raise JSONProblem("syntax", f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）",
                          f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if depth(value, max_depth) > max_depth:
        raise _too_deep(max_depth)
    return value


def _too_deep(max_depth: int) -> JSONProblem:
    return JSONProblem("depth", f"嵌套层数超过 {max_depth}", f"is nested deeper than {max_depth} levels")


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of parsed JSON (a scalar is 1), without recursion; stops counting past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest
