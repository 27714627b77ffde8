"""The order in which Chinese readers look names up: by pinyin (汉语拼音, tone by tone), numbers by their value.

"2#罐区" comes before "10#罐区", "合成装置区" (hé) before "精馏装置区" (jīng), and Latin letters read as they are;
pypinyin gives each character its reading. Used where a list of names is printed (the atlas's contents).
"""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

_NUMBER = re.compile(r"(\d+)")


def name_key(name: str) -> tuple:
    """A sort key for a name: each character's pinyin with its tone number, digit runs as numbers, the rest in
    lower case; ties broken by the name itself so that the order is total."""
    parts: list[tuple[int, int | str]] = []
    for syllable in lazy_pinyin(str(name or ""), style=Style.TONE3, neutral_tone_with_five=True):
        for piece in _NUMBER.split(syllable):
            if not piece:
                continue
            parts.append((0, int(piece)) if piece.isdigit() else (1, piece.strip().lower()))
    return (tuple(parts), str(name or ""))
