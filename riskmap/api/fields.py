"""Field types shared by the request models of the API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from riskmap.text import describe, unstorable


def _storable(value):
    if not isinstance(value, str):
        return value                    # not text: the type's own validation says so
    bad = unstorable(value)
    if bad is not None:
        zh, en = describe(bad)
        raise ValueError(f"含有无法保存的字符：{zh} / contains {en}, which cannot be stored")
    return value


# Text a user writes: refused (422) when it holds a character no database can store (riskmap.text); checked
# before the string's own constraints, which cannot even measure a lone surrogate.
Text = Annotated[str, BeforeValidator(_storable)]
