"""Several drawings per site: the site plan, building floor plans, workshop plans and schematic drawings.

Why a drawing is a small record and not a second enterprise: units, people, hazards and history belong to the
enterprise once; a drawing only says where things are drawn. The site plan is the drawing with no key (every
layout written before drawings existed is it). A floor plan names its building on the site plan and its storey,
so that the building takes the highest level of everything on its storeys (短板); a schematic drawing (a process
flow diagram) has no place on the earth and is drawn in a plane of its own.

A unit names its features on several drawings in the ledger's one `feature` cell: the site plan's reference as
before, and `drawing::reference` for each other drawing, separated by `;` (e.g. `B-OFFICE; 办公楼-2F::R201`).
No database and no web here.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from riskmap.errors import InputError

SITE = "site"   # the site plan's key in URLs and options (it has none in the database)
KINDS: dict[str, tuple[str, str]] = {
    "site": ("总平面布置图", "site plan"),
    "floor": ("建筑楼层平面图", "building floor plan"),
    "workshop": ("车间/区域平面图", "workshop or area plan"),
    "schematic": ("工艺流程图等示意图", "schematic drawing (process flow diagram)"),
}
PLACEMENT_MARK = "::"
_SPLIT = re.compile(r"[;；]")
_KEY = re.compile(r"[^\s/\\?#%:;；]{1,64}")
_STOREY = re.compile(r"^(?:(B)(\d{1,3})|(\d{1,3})F|(RF))$", re.IGNORECASE)
# How far (metres) a floor plan may lie from its building's footprint on the site plan before it is refused.
MAX_OFFSET_FROM_BUILDING_M = 200.0
# A schematic drawing is placed, for tiles, as a square of Web Mercator metres whose north-west corner is at
# (0, 0): one drawing unit per metre. Its own tile matrix's level 0 is the Web Mercator tile that holds it.
EARTH_HALF = math.pi * 6378137.0


@dataclass(frozen=True)
class Drawing:
    """One drawing of an enterprise, as its users name it."""

    key: str
    title: str
    kind: str = "site"
    building_ref: str | None = None     # fid of the building on the site plan (floor plans)
    storey: str | None = None           # "B1", "1F", "2F", "RF"
    storey_order: int | None = None
    plane: dict[str, Any] | None = field(default=None, compare=False)   # schematic: {"zoom": z0, "size": units}

    @property
    def schematic(self) -> bool:
        """Whether the drawing lives in a plane of its own (no place on the earth)."""
        return self.kind == "schematic"

    def label(self) -> str:
        """What a page or a switcher calls it: the title, with the storey when it has one."""
        return f"{self.title} {self.storey}" if self.storey and self.storey not in self.title else self.title

    def to_json(self) -> dict[str, Any]:
        """The drawing as the API and the web map show it."""
        return {"key": self.key, "title": self.title, "label": self.label(), "kind": self.kind,
                "kind_zh": KINDS[self.kind][0], "building": self.building_ref, "storey": self.storey,
                "storey_order": self.storey_order, "schematic": self.schematic,
                "georeferenced": not self.schematic, "plane": self.plane}


SITE_PLAN = Drawing(key=SITE, title="总平面布置图", kind="site")


def requested(drawing: str | None) -> str | None:
    """The drawing a request or command names (None: the site plan, also for "site" and an empty value)."""
    if drawing is None or not drawing.strip() or drawing.strip() == SITE:
        return None
    return drawing.strip()


def check_key(key: str) -> str:
    """A drawing key as given, or InputError: it goes into URLs and the ledger's feature cell."""
    text = (key or "").strip()
    if not _KEY.fullmatch(text) or PLACEMENT_MARK in text:
        raise InputError(f"图纸名称 “{text[:40]}” 不可用：1–64 个字符，不含空格、/、?、#、%、冒号和分号 / drawing name "
                         f"{text[:40]!r} is not usable: 1–64 characters without spaces, / ? # % colons or semicolons")
    return text


def storey_order(label: str) -> int:
    """The order of a storey label: B2 → -2, B1 → -1, 1F → 1, 2F → 2, RF (roof) → 999; else InputError."""
    m = _STOREY.match((label or "").strip())
    if not m:
        raise InputError(f"楼层 “{str(label)[:20]}” 应写作 B1、1F、2F 或 RF / storey {str(label)[:20]!r} should be "
                         "written as B1, 1F, 2F or RF")
    if m.group(1):
        return -int(m.group(2))
    if m.group(3):
        return int(m.group(3))
    return 999


def new_drawing(key: str, *, title: str | None = None, building: str | None = None, storey: str | None = None,
                schematic: bool = False, crs: str | None = None, control_points: bool = False) -> Drawing:
    """The drawing an import names, checked: a storey needs its building, a schematic drawing takes no CRS and no
    control points (it has no place on the earth)."""
    key = check_key(key)
    if key == SITE:
        return SITE_PLAN
    if storey and not building:
        raise InputError(f"楼层 {storey} 需要指明所在建筑（--building 总平面图上建筑的要素编号）/ storey {storey} "
                         "needs its building (--building, the fid of the building on the site plan)")
    if schematic and (crs or control_points):
        raise InputError("示意图（如工艺流程图）没有地理位置，不能指定坐标系或控制点 / a schematic drawing has no "
                         "place on the earth: it takes no CRS and no control points")
    if schematic and (building or storey):
        raise InputError("示意图不属于建筑楼层 / a schematic drawing belongs to no building storey")
    kind = "schematic" if schematic else ("floor" if building else "workshop")
    return Drawing(key=key, title=(title or key).strip()[:200] or key, kind=kind,
                   building_ref=building.strip() if building else None,
                   storey=storey.strip().upper() if storey else None,
                   storey_order=storey_order(storey) if storey else None)


def parse_feature_cell(text: str | None) -> tuple[str | None, dict[str, str]]:
    """The ledger's feature cell as (site plan reference, {drawing key: reference}); ValueError on a malformed one.
    """
    if text is None or not str(text).strip():
        return None, {}
    site: str | None = None
    placements: dict[str, str] = {}
    for part in _SPLIT.split(str(text)):
        part = part.strip()
        if not part:
            continue
        if PLACEMENT_MARK in part:
            drawing, ref = (p.strip() for p in part.split(PLACEMENT_MARK, 1))
            if not drawing or not ref:
                raise ValueError(f"“{part[:60]}” 应写作 图纸::要素 / {part[:60]!r} should read drawing::feature")
            if drawing == SITE:
                drawing = ""
            if drawing and drawing in placements:
                raise ValueError(f"图纸 {drawing} 出现两次 / drawing {drawing!r} given twice")
            if drawing:
                placements[drawing] = ref
                continue
            part = ref
        if site is not None:
            raise ValueError("总平面图上只能对应一个要素 / one feature on the site plan at most")
        site = part
    return site, placements


def feature_cell(site: str | None, placements: dict[str, str] | None) -> str | None:
    """The feature cell written back (parse_feature_cell's inverse): the site plan's reference first."""
    parts = [site] if site else []
    parts += [f"{d}{PLACEMENT_MARK}{ref}" for d, ref in sorted((placements or {}).items())]
    return "; ".join(parts) if parts else None


def not_imported_warning(units, drawings: set[str]) -> str | None:
    """The warning for a ledger whose units name drawings not imported yet (their references wait for them)."""
    unknown = sorted({d for u in units for d in (u.placements or {})} - set(drawings))
    if not unknown:
        return None
    who = [u.id for u in units if set(u.placements or {}) & set(unknown)][:5]
    return (f"台账引用了尚未导入的图纸 {'、'.join(unknown[:5])}（单元 {'、'.join(who)}），导入这些图纸时自动关联 / the "
            f"ledger refers to drawings not imported yet: {', '.join(unknown[:5])} (units {', '.join(who)}); they are "
            "bound when those drawings are imported")


def units_on_drawing(units, key: str) -> list:
    """The units as a drawing other than the site plan shows them: each stands on its feature there (its placement),
    or, without one, where its nearest placed ancestor stands; a geometry of its own (site plan lon/lat) does not
    apply. Copies: the units themselves are left as they are."""
    return [dataclasses.replace(u, feature_ref=(u.placements or {}).get(key), geometry=None) for u in units]


def schematic_plane(bounds: tuple[float, float, float, float]) -> dict[str, Any]:
    """Where a schematic drawing's plane goes for tiles: its size (drawing units, a power of two that holds it) and
    the Web Mercator zoom whose tile (2^(z-1), 2^(z-1)) is exactly that square."""
    minx, miny, maxx, maxy = bounds
    extent = max(maxx - minx, maxy - miny, 1e-9)
    zoom = max(1, min(24, math.floor(math.log2(2 * EARTH_HALF / extent))))
    size = 2 * EARTH_HALF / 2 ** zoom
    return {"zoom": int(zoom), "size": size, "origin": [float(minx), float(maxy)]}


def plane_to_mercator(plane: dict[str, Any], x: Any, y: Any) -> tuple[Any, Any]:
    """Drawing coordinates → Web Mercator metres: the drawing's top-left corner at (0, 0), one unit per metre."""
    ox, oy = plane["origin"]
    return x - ox, y - oy


def plane_tile(plane: dict[str, Any], z: int, x: int, y: int) -> tuple[int, int, int]:
    """The Web Mercator tile that is tile (z, x, y) of a schematic drawing's own tile matrix."""
    z0 = int(plane["zoom"])
    half = 2 ** (z0 - 1)
    return z0 + z, half * 2 ** z + x, half * 2 ** z + y
