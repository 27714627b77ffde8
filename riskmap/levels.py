"""The four risk levels (重大/较大/一般/低 = red/orange/yellow/blue), their palette and code tables."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from riskmap.symbology import load_yaml


class Level(str, Enum):
    """The four risk levels; the value is the code JSON, tiles and exports carry (low is blue, never green)."""

    MAJOR = "major"
    SIGNIFICANT = "significant"
    GENERAL = "general"
    LOW = "low"

    @property
    def rank(self) -> int:
        """4 for major down to 1 for low: higher is more dangerous."""
        return _RANK[self]

    @property
    def zh(self) -> str:
        """The Chinese name (重大风险 … 低风险), as prints and messages write it."""
        return _ZH[self]

    @property
    def en(self) -> str:
        """The English name (Major risk … Low risk)."""
        return _EN[self]

    @classmethod
    def from_rank(cls, rank: int) -> Level:
        """The level of a rank (4 major … 1 low); ValueError for any other number, 0 (not assessed) included."""
        for level, r in _RANK.items():
            if r == rank:
                return level
        raise ValueError(f"no risk level has rank {rank}")

    @classmethod
    def parse(cls, value: object) -> Level:
        """Accept a code, Chinese or English name, or colour word as users type them in ledgers."""
        if isinstance(value, Level):
            return value
        text = str(value).strip()
        key = text.lower().replace(" risk", "").strip()
        if key in _ALIASES:
            return _ALIASES[key]
        if text in _ALIASES:
            return _ALIASES[text]
        allowed = "、".join(f"{lv.zh}({lv.value})" for lv in cls)
        raise ValueError(f"无法识别的风险等级 “{text}”，应为：{allowed} / unknown risk level {text!r}")

    def __str__(self) -> str:
        return self.value


LEVELS_HIGH_TO_LOW: tuple[Level, ...] = (Level.MAJOR, Level.SIGNIFICANT, Level.GENERAL, Level.LOW)

_RANK = {Level.MAJOR: 4, Level.SIGNIFICANT: 3, Level.GENERAL: 2, Level.LOW: 1}
_ZH = {Level.MAJOR: "重大风险", Level.SIGNIFICANT: "较大风险", Level.GENERAL: "一般风险", Level.LOW: "低风险"}
_EN = {Level.MAJOR: "Major risk", Level.SIGNIFICANT: "Significant risk", Level.GENERAL: "General risk",
       Level.LOW: "Low risk"}
_ALIASES: dict[str, Level] = {}
for _lv, _words in {
    Level.MAJOR: ("major", "重大风险", "重大", "红", "红色", "red", "a"),
    Level.SIGNIFICANT: ("significant", "较大风险", "较大", "橙", "橙色", "orange", "b"),
    Level.GENERAL: ("general", "一般风险", "一般", "黄", "黄色", "yellow", "c"),
    Level.LOW: ("low", "低风险", "低", "蓝", "蓝色", "blue", "d"),
}.items():
    for _w in _words:
        _ALIASES[_w] = _lv


def level_code(level: Level | None) -> str | None:
    """A level's code ("major" …) for JSON, None for not assessed."""
    return None if level is None else level.value


def level_zh(level: Level | None) -> str | None:
    """A level's Chinese name (重大风险 …), None for not assessed."""
    return None if level is None else level.zh


def level_rank(level: Level | None) -> int:
    """A level's rank (4 major … 1 low), 0 for not assessed: higher is more dangerous."""
    return 0 if level is None else level.rank


def level_or_none(value: object) -> Level | None:
    """A stored level code as a Level, or None for "not assessed" however a frame spells it (None, NaN, "")."""
    if value is None or isinstance(value, float) or (isinstance(value, str) and not value.strip()):
        return None
    return Level.parse(value)


def highest(levels) -> Level | None:
    """The most dangerous of some levels (短板原理), or None for none."""
    best = None
    for lv in levels:
        if lv is not None and (best is None or lv.rank > best.rank):
            best = lv
    return best


@dataclass(frozen=True)
class LevelStyle:
    """How one level is drawn: fill colour, hatch and grey for greyscale prints, and its default control tier."""

    level: Level
    zh: str
    en: str
    fill: str
    hatch: str
    grey: str
    control_tier: str


@dataclass(frozen=True)
class Palette:
    """The symbology of the levels as layers/levels.yaml sets it (enterprises may change colours), with code tables."""

    styles: dict[Level, LevelStyle]
    code_tables: dict[str, dict[Level, int]]
    control_tiers: dict[str, dict[str, str]]

    def colour(self, level: Level) -> str:
        """The fill colour of a level (#RRGGBB) from the configured palette; never hard-code the four colours."""
        return self.styles[level].fill

    def code(self, level: Level, table: str = "1-4") -> int:
        """The numeric code of a level for an export target ("1-4": 1 = major; "0-3": 0 = major)."""
        try:
            return self.code_tables[table][level]
        except KeyError:
            raise ValueError(f"未知的等级编码表 {table!r}，可选：{', '.join(self.code_tables)}") from None


def load_palette(directory: Path | None = None) -> Palette:
    """The palette from `layers/levels.yaml` (or another symbology folder)."""
    data = load_yaml("levels.yaml", directory)
    styles = {}
    for lv in Level:
        entry = data["levels"][lv.value]
        styles[lv] = LevelStyle(lv, entry["zh"], entry["en"], entry["fill"], entry.get("hatch", ""),
                                entry.get("grey", "#808080"), entry.get("control_tier", ""))
    tables = {name: {Level(k): int(v) for k, v in table.items()}
              for name, table in data.get("code_tables", {}).items()}
    return Palette(styles, tables, data.get("control_tiers", {}))


_TIER_ALIASES = {
    "company": ("company", "公司级", "厂级", "公司(厂)级", "公司（厂）级", "公司", "厂"),
    "department": ("department", "部门级", "车间级", "部门(车间)级", "部门（车间）级", "部门", "车间", "workshop"),
    "team": ("team", "班组级", "班组"),
    "post": ("post", "岗位级", "岗位"),
}
_TIER_BY_WORD = {word.lower(): code for code, words in _TIER_ALIASES.items() for word in words}


def normalise_tier(text: str | None) -> str | None:
    """A control tier (管控层级) as its code (company/department/team/post); other wording is kept as written."""
    if text is None:
        return None
    word = str(text).strip()
    return _TIER_BY_WORD.get(word.lower(), word) if word else None


def tier_zh(code: str | None) -> str | None:
    """The Chinese name of a tier code for tables people read (公司(厂)级 …); other text unchanged."""
    if code is None:
        return None
    tiers = load_palette().control_tiers
    return tiers.get(code, {}).get("zh", code)
