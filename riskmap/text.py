"""Text that a database can store, and the refusal of text that it cannot.

Two kinds of character reach riskmap from hostile or broken input and cannot be stored: NUL (U+0000), which
PostgreSQL refuses in any text while SQLite keeps it, and lone UTF-16 surrogates (U+D800–U+DFFF), which Python's
JSON reader makes from an escape such as "\\ud800" and which no UTF-8 database can hold. Interfaces refuse them
where a user writes text (`check_text`, a clear 422 naming the field); the store replaces any that still get
through (`storable`, also applied to every query parameter), so that a lookup by such text finds nothing on both
backends instead of failing on one.
"""

from __future__ import annotations

import re
from typing import Any

from riskmap.errors import InputError

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """The first character of `text` that no database can store (NUL or a lone surrogate), or None."""
    found = _UNSTORABLE.search(text)
    return found.group() if found else None


def storable(text: str) -> str:
    """`text` with every NUL and lone surrogate replaced by U+FFFD (the text itself when it has none)."""
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text


def describe(char: str) -> tuple[str, str]:
    """The character named in Chinese and in English."""
    if char == "\x00":
        return "空字符 NUL（U+0000）", "a NUL character (U+0000)"
    return f"孤立的代理项 U+{ord(char):04X}", f"a lone surrogate U+{ord(char):04X}"


def check_text(value: Any, what: str) -> Any:
    """`value` unchanged; InputError (422) when it is text holding a character that cannot be stored.

    `what` names the field for the message (e.g. "properties.name"). Strings inside lists and dicts (keys too)
    are checked, without recursion (bodies may nest deeply).
    """
    stack = [(value, what)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            bad = unstorable(item)
            if bad is not None:
                zh, en = describe(bad)
                raise InputError(f"{where} 含有无法保存的字符：{zh} / {where} contains {en}, which cannot be "
                                 "stored")
        elif isinstance(item, dict):
            for key, inner in item.items():
                stack.append((key, where))
                stack.append((inner, f"{where}.{key}" if isinstance(key, str) and not unstorable(key) else where))
        elif isinstance(item, (list, tuple)):
            stack.extend((inner, f"{where}[{i}]") for i, inner in enumerate(item))
    return value


def storable_parameters(parameters: Any, many: bool = False) -> Any:
    """Query parameters (a dict, tuple or list; with `many`, a sequence of them) with `storable` text, arrays of
    text included; the same object when nothing needed replacing (the usual case, checked first)."""
    # SQLAlchemy says executemany for its batched INSERT … VALUES too, whose parameters are one flat row.
    if many and isinstance(parameters, (list, tuple)) and parameters and isinstance(parameters[0], (dict, tuple)):
        if not _rows_need(parameters):
            return parameters
        return [storable_parameters(p) for p in parameters]
    if isinstance(parameters, dict):
        if not _row_needs(parameters.values()):
            return parameters
        return {k: _clean(v) for k, v in parameters.items()}
    if isinstance(parameters, (list, tuple)):
        if not _row_needs(parameters):
            return parameters
        return type(parameters)(_clean(v) for v in parameters)
    return parameters


def _rows_need(rows) -> bool:
    """Whether any text of many rows needs replacing: each distinct text searched once (100,000 flag rows share
    their reason)."""
    texts: set[str] = set()
    for row in rows:
        for value in (row.values() if isinstance(row, dict) else row):
            if value.__class__ is str:
                texts.add(value)
            elif isinstance(value, (list, tuple)) and _needs(value):
                return True
    return bool(texts) and _UNSTORABLE.search("\x01".join(texts)) is not None


def _row_needs(values) -> bool:
    """Whether any text among `values` needs replacing: one search over all of them joined (bulk inserts send
    hundreds of thousands of rows through here)."""
    texts = []
    for value in values:
        if value.__class__ is str:
            texts.append(value)
        elif isinstance(value, (list, tuple)) and _needs(value):
            return True
    return bool(texts) and _UNSTORABLE.search("\x01".join(texts)) is not None


def _needs(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, (list, tuple)):
        return any(_needs(v) for v in value)
    return False


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_clean(v) for v in value)
    return value
