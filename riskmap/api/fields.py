"""Field types shared by the request models of the API."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from riskmap.text import describe, unstorable


def _storable(value: str) -> str:
    bad = unstorable(value)
    if bad is not None:
        zh, en = describe(bad)
        raise ValueError(f"含有无法保存的字符：{zh} / contains {en}, which cannot be stored")
    return value


# Text a user writes: refused (422) when it holds a character no database can store (riskmap.text).
Text = Annotated[str, AfterValidator(_storable)]
