"""Paper sizes, units and the footer every print carries."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from riskmap import clock
from riskmap.errors import InputError

PT_PER_MM = 72 / 25.4
CSS_PX_PT = 0.75                # one CSS pixel (1/96 in) in points: the styles' widths are CSS px

# ISO 216 A series, portrait (width, height) in mm.
PAPERS: dict[str, tuple[float, float]] = {
    "A0": (841, 1189), "A1": (594, 841), "A2": (420, 594), "A3": (297, 420), "A4": (210, 297), "A5": (148, 210),
}


def mm(value: float) -> float:
    """Millimetres as points (1/72 in), the unit every print draws in."""
    return value * PT_PER_MM


@dataclass(frozen=True)
class Paper:
    """A sheet of paper in mm, orientation given by which side is longer; drawing uses pt (`width`, `height`)."""

    name: str
    width_mm: float
    height_mm: float

    @property
    def landscape(self) -> bool:
        """Whether the sheet is wider than tall."""
        return self.width_mm > self.height_mm

    @property
    def width(self) -> float:
        """Width in pt."""
        return mm(self.width_mm)

    @property
    def height(self) -> float:
        """Height in pt."""
        return mm(self.height_mm)

    @property
    def factor(self) -> float:
        """How much bigger symbols and text are than on A4: the square root of the size ratio, so an A0 wall
        poster reads from a few metres and an A4 sheet at arm's length."""
        return math.sqrt(min(self.width_mm, self.height_mm) / 210.0)


def paper(name: str, landscape: bool = False, allowed: tuple[str, ...] | None = None) -> Paper:
    """A paper by name (A0–A5, any case), portrait or landscape; unknown names → InputError."""
    key = str(name or "").strip().upper()
    names = allowed or tuple(PAPERS)
    if key not in names:
        raise InputError(f"不支持的纸张 “{str(name)[:20]}”，可选：{'、'.join(names)} / unsupported paper "
                         f"{str(name)[:20]!r}: use {', '.join(names)}")
    w, h = PAPERS[key]
    return Paper(key, h, w) if landscape else Paper(key, w, h)


@dataclass(frozen=True)
class Stamp:
    """What a print was made from and when (公告 rules: every board and card shows its source and date).

    A print of a past state (`as_of`) says so first, so that nobody posts it as the current plan.
    """

    layout_version: int | None
    data_version: int
    generated: datetime               # Beijing time (riskmap.clock), whatever the machine's zone
    as_of: datetime | None = None

    def as_of_text(self) -> str | None:
        """The line that marks a past state ("截至 … 的数据 / data as of …"), None for a print of the current one."""
        if self.as_of is None:
            return None
        from riskmap.store.history import format_moment

        moment = format_moment(self.as_of)
        return f"截至 {moment} 的数据 / data as of {moment}"

    def text(self) -> str:
        """The footer line: past state first if any, then layout and data versions and the Beijing time of printing."""
        layout = f"v{self.layout_version}" if self.layout_version is not None else "无 / none"
        when = clock.local_text(self.generated)
        past = f"{self.as_of_text()} · " if self.as_of is not None else ""
        return (f"{past}布局版本 layout {layout} · 数据版本 data v{self.data_version} · 生成时间 generated {when} · "
                f"riskmap")


def stamp_of(plant, now: datetime | None = None) -> Stamp:
    """The stamp of a plant printed at `now` (default: the present), with its layout and data versions."""
    info = plant.layout_info or {}
    version = info.get("version")
    return Stamp(int(version) if version is not None else None, int(plant.data_version),
                 clock.local_time(now or clock.now()), getattr(plant, "as_of", None))
