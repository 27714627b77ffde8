"""Region risk (区域风险) with provenance: which units are in a region, its level, and why.

Two methods: `highest` (短板原理, the default everywhere in practice) and `weighted` (综合加权), which is
capped so that it never silently hides a major risk. Membership is decided for all (region, unit) pairs at
once with array operations (STRtree bulk queries, prepared predicates, sort-based group-by), so a plant of a
million units aggregates in seconds; explanations are built per region, and unit lists only on demand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import numpy as np
import shapely

from riskmap.domain import INHERENT, RESIDUAL, AssessmentUnit, Evaluation, Override, Region, RiskEvent
from riskmap.errors import InputError
from riskmap.levels import LEVELS_HIGH_TO_LOW, Level, level_code, level_zh

METHODS = ("highest", "weighted")
TREE = "tree"
SPATIAL = "spatial"
SPATIAL_ANCESTOR = "spatial-ancestor"
MEMBERSHIPS = (TREE, SPATIAL, SPATIAL_ANCESTOR)   # index = the code stored per pair
_MEMBERSHIP_ZH = {TREE: "单元树", SPATIAL: "空间", SPATIAL_ANCESTOR: "空间（上级单元几何）"}

# Score of each level in the weighted method: it equals Level.rank (low 1 … major 4).
SCORES: dict[Level, int] = {lv: lv.rank for lv in Level}
_LEVEL_OF_RANK: tuple[Level | None, ...] = (None, Level.LOW, Level.GENERAL, Level.SIGNIFICANT, Level.MAJOR)

RULES: dict[str, tuple[str, str]] = {
    "highest": ("短板原理：区域等级取区域内最高单元等级", "highest level of the region's units"),
    "weighted": ("综合加权：S = Σwᵢsᵢ / Σwᵢ（低 1、一般 2、较大 3、重大 4，wᵢ 为单元权重），区域等级取分值等于 "
                 "floor(S + 0.5) 的等级",
                 "weighted composite: S = Σwᵢsᵢ / Σwᵢ (low 1, general 2, significant 3, major 4; wᵢ the unit "
                 "weight); the region takes the level whose score is floor(S + 0.5)"),
}
CAP_RULE: tuple[str, str] = ("且不低于区域内最高单元等级一级",
                             "never more than one level below the region's highest unit")


class Contribution(NamedTuple):
    """One member unit of a region: `via` is the ancestor whose geometry placed it (spatial-ancestor)."""

    unit_id: str
    name: str
    level: Level | None
    weight: Decimal
    membership: str
    via: str | None = None


@dataclass(frozen=True)
class UnitRef:
    """The unit that decided a region's level: its level, how it belongs to the region (``via`` the ancestor whose
    geometry placed it) and its own override, if that forced the level.
    """
    id: str
    name: str
    level: Level | None
    membership: str
    via: str | None = None
    override: Override | None = None          # the unit's own forced level, when that decided it
    drawings: tuple[str, ...] = ()            # the other drawings it stands on (a storey decides its building)


@dataclass(frozen=True)
class EventRef:
    """The risk event that gave the deciding unit its level, with the evaluation behind it."""

    name: str
    id: str | None
    level: Level | None
    method: str | None
    profile: str | None = None
    score: Decimal | None = None
    computed_level: Level | None = None
    band: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    overrides: tuple[Override, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON for the API and exports; Decimals become text so no digit is lost."""
        return {
            "name": self.name, "id": self.id, "method": self.method, "profile": self.profile,
            "score": None if self.score is None else str(self.score),
            "level": level_code(self.level), "level_zh": level_zh(self.level),
            "computed_level": level_code(self.computed_level), "band": self.band,
            "inputs": {k: str(v) if isinstance(v, Decimal) else v for k, v in self.inputs.items()},
            "overrides": [{"level": o.level.value, "reason": o.reason, "rule": o.rule} for o in self.overrides],
        }


@dataclass(eq=False)
class RegionRisk:
    """A region's level and its provenance: the deciding unit and event, the rule, and the members."""

    region_id: str
    name: str
    level: Level | None
    method: str
    which: str
    score: Decimal | None                     # S of the weighted method, exact quotient to 28 digits
    decided_by: UnitRef | None
    deciding_event: EventRef | None
    rule_zh: str
    rule_en: str
    counts: dict[Level, int]                  # member units per level
    unlevelled: int = 0                       # members without a level: in the region, not deciding
    highest_level: Level | None = None        # the highest member level (the cap's reference)
    uncapped_level: Level | None = None       # weighted: floor(S + 0.5) before the cap
    capped: bool = False
    _members: Any = field(default=None, repr=False)

    @property
    def id(self) -> str:
        """The region's id, under the name the other map objects use."""
        return self.region_id

    @property
    def member_count(self) -> int:
        """Every member unit, with or without a level."""
        return sum(self.counts.values()) + self.unlevelled

    @property
    def contributing(self) -> list[Contribution]:
        """Member units, highest level first, then in the units' input order (built on demand)."""
        return [] if self._members is None else self._members.contributions()

    @property
    def explanation(self) -> str:
        """Why the region has its level, in Chinese then English, for people reading the map."""
        return f"{self._explain_zh()} / {self._explain_en()}"

    def _explain_parts(self) -> list[tuple[str, str]]:
        """The explanation as (Chinese, English) clauses, in the order people read them."""
        if self.level is None:
            return [(f"区域“{self.name}”内没有已定级的单元（成员 {self.member_count} 个），未定级；"
                     f"规则：{self.rule_zh}",
                     f"region {self.name} has no unit with a level ({self.member_count} members): no level; "
                     f"rule: {self.rule_en}")]
        method_zh = "短板原理" if self.method == "highest" else "综合加权"
        parts = [(f"区域“{self.name}”为{self.level.zh}（{method_zh}）",
                  f"region {self.name} is {self.level.en.lower()} ({self.method})")]
        if self.method == "weighted":
            parts.append((f"加权得分 S = {_show(self.score)}，floor(S + 0.5) = {self.uncapped_level.rank}，"
                          f"对应{self.uncapped_level.zh}",
                          f"weighted score S = {_show(self.score)}, floor(S + 0.5) = {self.uncapped_level.rank}, "
                          f"i.e. {self.uncapped_level.en.lower()}"))
            if self.capped:
                parts.append((f"已封顶：区域内最高为{self.highest_level.zh}，区域等级不低于其一级，取{self.level.zh}",
                              f"capped: the region's highest unit is {self.highest_level.en.lower()}, so the "
                              f"region is at least one level below it: {self.level.en.lower()}"))
        unit = self.decided_by
        if unit is not None:
            how_zh = _MEMBERSHIP_ZH[unit.membership] + (f"，借用单元 {unit.via} 的几何" if unit.via else "")
            how_en = unit.membership + (f" via unit {unit.via}" if unit.via else "")
            where_zh = f"，位于图纸 {'、'.join(unit.drawings)}" if unit.drawings else ""
            where_en = f", on drawing {', '.join(unit.drawings)}" if unit.drawings else ""
            parts.append((f"决定单元“{unit.name}”（{unit.id}，{level_zh(unit.level)}，归属：{how_zh}{where_zh}）",
                          f"decided by unit {unit.name} ({unit.id}, {_en(unit.level)}, membership: {how_en}"
                          f"{where_en})"))
            if unit.override is not None:
                parts.append((f"单元强制定级为{unit.override.level.zh}：{unit.override.reason}",
                              f"unit forced to {unit.override.level.value}: {unit.override.reason}"))
        event = self.deciding_event
        if event is not None:
            parts.append((f"决定事件“{event.name}”（{_event_text(event, zh=True)}）",
                          f"deciding event {event.name} ({_event_text(event, zh=False)})"))
        parts.append((f"规则：{self.rule_zh}", f"rule: {self.rule_en}"))
        return parts

    def _explain_zh(self) -> str:
        return "；".join(zh for zh, _ in self._explain_parts())

    def _explain_en(self) -> str:
        return "; ".join(en for _, en in self._explain_parts())

    def to_dict(self, contributing: bool = True) -> dict[str, Any]:
        """Plain JSON-able data; `contributing=False` leaves out the member list of big regions."""
        unit = self.decided_by
        out: dict[str, Any] = {
            "id": self.region_id,
            "name": self.name,
            "level": level_code(self.level),
            "level_zh": level_zh(self.level),
            "level_en": None if self.level is None else self.level.en,
            "method": self.method,
            "which": self.which,
            "score": None if self.score is None else str(self.score),
            "uncapped_level": level_code(self.uncapped_level),
            "capped": self.capped,
            "highest_level": level_code(self.highest_level),
            "decided_by": None if unit is None else unit.name,
            "decided_by_id": None if unit is None else unit.id,
            "decided_by_level": None if unit is None else level_code(unit.level),
            "membership": None if unit is None else unit.membership,
            "membership_via": None if unit is None else unit.via,
            "decided_on_drawings": [] if unit is None else list(unit.drawings),
            "unit_override": None if unit is None or unit.override is None else
            {"level": unit.override.level.value, "reason": unit.override.reason, "rule": unit.override.rule},
            "deciding_event": None if self.deciding_event is None else self.deciding_event.to_dict(),
            "rule": {"zh": self.rule_zh, "en": self.rule_en},
            "counts": {lv.value: self.counts.get(lv, 0) for lv in LEVELS_HIGH_TO_LOW},
            "unlevelled": self.unlevelled,
            "members": self.member_count,
            "explanation": self.explanation,
        }
        if contributing:
            out["contributing"] = [
                {"unit_id": c.unit_id, "name": c.name, "level": level_code(c.level), "weight": str(c.weight),
                 "membership": c.membership, "via": c.via}
                for c in self.contributing
            ]
        return out


def _en(level: Level | None) -> str:
    return "no level" if level is None else level.en.lower()


def _show(score: Decimal | None) -> str:
    """S for people: exact when short, else rounded to four places with ≈."""
    if score is None:
        return "-"
    rounded = score.quantize(Decimal("0.0001"))
    return str(score.normalize()) if rounded == score else f"≈{rounded.normalize()}"


_SCORE_SYMBOL = {"lec": "D", "ls": "R"}


def _event_text(event: EventRef, zh: bool) -> str:
    bits = []
    if event.score is not None:
        symbol = _SCORE_SYMBOL.get((event.method or "").lower(), "分值" if zh else "score")
        method = (event.method or "").upper()
        bits.append(f"{method} {symbol} = {event.score}".strip())
    if event.band:
        bits.append(event.band)
    bits.append(level_zh(event.level) if zh else _en(event.level))
    for o in event.overrides:
        bits.append(f"强制为{o.level.zh}：{o.reason}" if zh else f"forced to {o.level.value}: {o.reason}")
    return ("，" if zh else ", ").join(bits)


# ---------------------------------------------------------------------------------------------------------
# Columnar inputs


@dataclass
class _Units:
    ids: np.ndarray                  # object: str
    names: np.ndarray                # object: str
    parent_ids: np.ndarray           # object: str | None
    rank: np.ndarray                 # int8: 0 = no level, 1 low … 4 major
    geoms: np.ndarray                # object: shapely geometry | None
    weight_codes: np.ndarray         # int: index into weight_values
    weight_values: list[Decimal]
    objects: list[AssessmentUnit] | None = None


@dataclass
class _Regions:
    ids: list[str]
    names: list[str]
    geoms: np.ndarray
    unit_ids: list[str | None]


def _is_frame(obj: Any) -> bool:
    return hasattr(obj, "columns") and hasattr(obj, "iloc")


def _to_lonlat(gdf):
    crs = getattr(gdf, "crs", None)
    if crs is not None and crs.to_epsg() != 4326:
        return gdf.to_crs(4326)
    return gdf


def _text_array(series, blank_is_none: bool = True) -> np.ndarray:
    """A column as an object array of str (None for nulls); whole floats such as 3.0 read as "3"."""
    import pandas as pd

    null = series.isna().to_numpy()
    if pd.api.types.is_float_dtype(series.dtype):
        vals = series.to_numpy()
        finite = vals[~null]
        if np.all(np.isfinite(finite)) and np.all(finite == np.floor(finite)):
            series = series.astype("Int64")
    out = np.full(len(series), None, dtype=object)
    if (~null).any():
        out[~null] = series[~null].astype(str).to_numpy(dtype=object)
    if blank_is_none and out.size and series.dtype == object:
        out[out == ""] = None
    return out


def _decimal_weight(value: Any) -> Decimal:
    if value is None or (isinstance(value, float) and value != value):
        return Decimal(1)
    try:
        if isinstance(value, Decimal):
            weight = value
        elif isinstance(value, (bool, np.bool_)):
            raise InvalidOperation
        elif isinstance(value, (int, np.integer)):
            weight = Decimal(int(value))
        elif isinstance(value, (float, np.floating)):
            weight = Decimal(repr(float(value)))
        else:
            text = str(value).strip()
            weight = Decimal(text) if text else Decimal(1)
    except (InvalidOperation, ValueError):
        raise ValueError(f"单元权重无法识别：{value!r} / unit weight {value!r} is not a number") from None
    if not weight.is_finite() or weight <= 0:
        raise ValueError(f"单元权重必须为正数：{value!r} / unit weight must be positive, got {value!r}")
    return weight


def _weights(values, ids: np.ndarray) -> tuple[np.ndarray, list[Decimal]]:
    """Factorise weights into codes and distinct Decimal values: converted per distinct value, not per unit."""
    import pandas as pd

    if not isinstance(values, pd.Series):
        values = np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    decimals: list[Decimal] = []
    for k, raw in enumerate(list(uniques)):
        try:
            decimals.append(_decimal_weight(raw))
        except ValueError as exc:
            first = ids[int(np.argmax(codes == k))]
            zh, _, en = str(exc).partition(" / ")
            raise InputError(f"单元 {first}：{zh} / unit {first}: {en or zh}") from None
    if (codes < 0).any():
        decimals.append(Decimal(1))
        codes = np.where(codes < 0, len(decimals) - 1, codes)
    return codes.astype(np.int64), decimals


def _units_from_objects(units: Iterable[AssessmentUnit], which: str) -> _Units:
    objs = list(units)
    ids = np.array([str(u.id) for u in objs], dtype=object)
    parents = np.array([None if u.parent_id is None else str(u.parent_id) for u in objs], dtype=object)
    names = np.array([u.name if u.name else str(u.id) for u in objs], dtype=object)
    rank = np.zeros(len(objs), dtype=np.int8)
    for i, unit in enumerate(objs):
        level = unit.level(which)
        if level is not None:
            rank[i] = level.rank
    geoms = np.empty(len(objs), dtype=object)
    geoms[:] = [u.geometry for u in objs]
    codes, values = _weights([u.weight for u in objs], ids)
    return _Units(ids, names, parents, rank, geoms, codes, values, objs)


def _units_from_frame(gdf, which: str) -> _Units:
    import pandas as pd

    missing = [c for c in ("id", "geometry", "level") if c not in gdf.columns]
    if missing:
        raise InputError(f"单元表缺少列：{', '.join(missing)} / the units frame lacks columns {missing}")
    gdf = _to_lonlat(gdf)
    if gdf["id"].isna().any():
        raise InputError("单元表中有空的单元编号 / the units frame has empty ids")
    ids = _text_array(gdf["id"], blank_is_none=False)
    names = ids.copy()
    if "name" in gdf.columns:
        given = _text_array(gdf["name"])
        named = np.array([v is not None for v in given], dtype=bool)
        names[named] = given[named]
    parents = (_text_array(gdf["parent_id"]) if "parent_id" in gdf.columns
               else np.full(len(gdf), None, dtype=object))
    column = "inherent_level" if which == INHERENT and "inherent_level" in gdf.columns else "level"
    codes, uniques = pd.factorize(gdf[column], use_na_sentinel=True)
    lut = np.zeros(len(uniques) + 1, dtype=np.int8)   # last slot: the null sentinel -1
    for k, raw in enumerate(list(uniques)):
        if isinstance(raw, str) and not raw.strip():
            continue
        try:
            lut[k] = Level.parse(raw).rank
        except ValueError as exc:
            first = ids[int(np.argmax(codes == k))]
            zh, _, en = str(exc).partition(" / ")
            raise InputError(f"单元 {first}：{zh} / unit {first}: {en or zh}") from None
    rank = lut[codes]
    geoms = np.asarray(gdf.geometry.values, dtype=object) if len(gdf) else np.empty(0, dtype=object)
    if "weight" in gdf.columns:
        wcodes, wvalues = _weights(gdf["weight"], ids)
    else:
        wcodes, wvalues = np.zeros(len(gdf), dtype=np.int64), [Decimal(1)]
    return _Units(ids, names, parents, rank.astype(np.int8), geoms, wcodes, wvalues, None)


def _regions_columns(regions) -> _Regions:
    if _is_frame(regions):
        missing = [c for c in ("id", "geometry") if c not in regions.columns]
        if missing:
            raise InputError(f"区域表缺少列：{', '.join(missing)} / the regions frame lacks columns {missing}")
        regions = _to_lonlat(regions)
        if regions["id"].isna().any():
            raise InputError("区域表中有空的区域编号 / the regions frame has empty ids")
        ids = [str(v) for v in _text_array(regions["id"], blank_is_none=False)]
        names = (list(_text_array(regions["name"])) if "name" in regions.columns else list(ids))
        names = [n if n is not None else i for n, i in zip(names, ids, strict=True)]
        unit_ids = (list(_text_array(regions["unit_id"])) if "unit_id" in regions.columns
                    else [None] * len(ids))
        geoms = np.asarray(regions.geometry.values, dtype=object)
        return _Regions(ids, names, geoms, unit_ids)
    regions = list(regions)
    geoms = np.empty(len(regions), dtype=object)
    geoms[:] = [r.geometry for r in regions]
    return _Regions([str(r.id) for r in regions], [r.name or str(r.id) for r in regions], geoms,
                    [None if r.unit_id is None else str(r.unit_id) for r in regions])


# ---------------------------------------------------------------------------------------------------------
# Membership


def _present(geoms: np.ndarray) -> np.ndarray:
    if geoms.size == 0:
        return np.zeros(0, dtype=bool)
    return ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))


def _expand(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ranges [start, start + count) for each pair of the inputs."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(total)


def _group_lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray):
    """For each wanted key, every value stored under it: returns (index into wanted, value) pairs."""
    order = np.argsort(keys, kind="stable")
    sorted_keys, sorted_values = keys[order], values[order]
    starts = np.searchsorted(sorted_keys, wanted, side="left")
    counts = np.searchsorted(sorted_keys, wanted, side="right") - starts
    which = np.repeat(np.arange(len(wanted)), counts)
    return which, sorted_values[_expand(starts, counts)]


def _names(ids, positions, limit: int = 5) -> str:
    shown = [str(ids[p]) for p in positions[:limit]]
    return "、".join(shown) + ("…" if len(positions) > limit else "")


@dataclass
class _Pairs:
    region: np.ndarray   # int64 region position
    unit: np.ndarray     # int64 unit position
    kind: np.ndarray     # int8 index into MEMBERSHIPS
    via: np.ndarray      # int64 unit position of the geometry's owner for spatial-ancestor, else -1


def _parents(units: _Units):
    import pandas as pd

    index = pd.Index(units.ids)
    if not index.is_unique:
        dup = index[index.duplicated()].unique()
        raise InputError(f"单元编号重复：{_names(dup, range(len(dup)))} / duplicate unit ids")
    has_parent = ~pd.isna(units.parent_ids)
    parent = np.full(len(units.ids), -1, dtype=np.int64)
    if has_parent.any():
        found = index.get_indexer(units.parent_ids[has_parent])
        if (found < 0).any():
            bad = np.flatnonzero(has_parent)[found < 0]
            raise InputError(f"单元的上级单元不存在：{_names(units.ids, bad)} / units with an unknown parent: "
                             f"{', '.join(str(units.ids[b]) for b in bad[:5])}")
        parent[has_parent] = found
    return index, parent


def _memberships(regions: _Regions, units: _Units) -> _Pairs:
    n = len(units.ids)
    index, parent = _parents(units)

    region_unit = np.full(len(regions.ids), -1, dtype=np.int64)
    named = np.array([u is not None for u in regions.unit_ids], dtype=bool)
    if named.any():
        found = index.get_indexer(np.asarray(regions.unit_ids, dtype=object)[named])
        if (found < 0).any():
            bad = np.flatnonzero(named)[found < 0]
            raise InputError(f"区域所指的单元不存在：{_names(regions.ids, bad)} / regions name unknown units: "
                             + ", ".join(f"{regions.ids[b]}→{regions.unit_ids[b]}" for b in bad[:5]))
        region_unit[named] = found
    own = np.zeros(n, dtype=bool)
    own[region_unit[region_unit >= 0]] = True

    # Walk up the tree one level per step for all units at once: the tree membership (a region's own unit is
    # the unit itself or an ancestor) and the located geometry (own, else the nearest ancestor's).
    has_geom = _present(units.geoms)
    loc = np.where(has_geom, np.arange(n), -1)
    active = np.arange(n)
    cur = active.copy()
    tree_unit, tree_anchor = [], []
    any_own = bool(own.any())
    while active.size:
        if any_own:
            hit = own[cur]
            tree_unit.append(active[hit])
            tree_anchor.append(cur[hit])
        unresolved = (loc[active] < 0) & has_geom[cur]
        loc[active[unresolved]] = cur[unresolved]
        nxt = parent[cur]
        keep = nxt >= 0
        if keep.all():
            raise InputError(f"单元的上级关系形成循环：{_names(units.ids, active)} / parent cycle among units "
                             f"{', '.join(str(units.ids[a]) for a in active[:5])}")
        active, cur = active[keep], nxt[keep]

    parts = []
    if tree_unit:
        t_unit = np.concatenate(tree_unit)
        t_anchor = np.concatenate(tree_anchor)
        owned = np.flatnonzero(region_unit >= 0)
        which, t_region = _group_lookup(region_unit[owned], owned, t_anchor)
        t_unit = t_unit[which]
        parts.append(_Pairs(t_region.astype(np.int64), t_unit.astype(np.int64),
                            np.zeros(len(t_unit), dtype=np.int8), np.full(len(t_unit), -1, dtype=np.int64)))

    s_region, s_holder = _spatial_pairs(regions, units, loc)
    if s_region.size:
        if np.array_equal(loc, np.arange(n)):
            s_unit = s_holder
        else:
            located = np.flatnonzero(loc >= 0)
            which, s_unit = _group_lookup(loc[located], located, s_holder)
            s_region, s_holder = s_region[which], s_holder[which]
        ancestor = s_unit != s_holder
        parts.append(_Pairs(s_region, s_unit, np.where(ancestor, 2, 1).astype(np.int8),
                            np.where(ancestor, s_holder, -1)))

    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return _Pairs(empty, empty, np.zeros(0, dtype=np.int8), empty)
    if len(parts) == 1:
        return parts[0]
    region = np.concatenate([p.region for p in parts])
    unit = np.concatenate([p.unit for p in parts])
    kind = np.concatenate([p.kind for p in parts])
    via = np.concatenate([p.via for p in parts])
    # A pair found both ways keeps the tree (the ledger's own statement beats the drawing).
    key = region * max(n, 1) + unit
    order = np.lexsort((kind, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]
    return _Pairs(region[keep], unit[keep], kind[keep], via[keep])


def _spatial_pairs(regions: _Regions, units: _Units, loc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(region, geometry-holding unit) pairs: positive-area overlap for areal units, inside for the rest."""
    present = _present(regions.geoms)
    rpos = np.flatnonzero(present)
    used = np.zeros(len(loc), dtype=bool)
    used[loc[loc >= 0]] = True
    holders = np.flatnonzero(used)
    empty = np.zeros(0, dtype=np.int64)
    if rpos.size == 0 or holders.size == 0:
        return empty, empty
    rgeoms = regions.geoms[rpos]
    rdims = shapely.get_dimensions(rgeoms)
    if (rdims < 2).any():
        bad = rpos[rdims < 2]
        raise InputError(f"区域的几何必须是面：{_names(regions.ids, bad)} / region geometries must be polygons: "
                         f"{', '.join(regions.ids[b] for b in bad[:5])}")
    hgeoms = units.geoms if len(holders) == len(loc) else units.geoms[holders]
    hdims = shapely.get_dimensions(hgeoms)
    shapely.prepare(rgeoms)
    out_r, out_h = [], []
    try:
        small = np.flatnonzero(hdims < 2)
        if small.size:
            # A point or line is a member when it lies inside: contains(region, g) is false for a point on
            # the boundary and for a line that leaves the region.
            tree = shapely.STRtree(hgeoms[small])
            ri, hi = tree.query(rgeoms, predicate="contains")
            out_r.append(rpos[ri])
            out_h.append(holders[small[hi]])
        areal = np.flatnonzero(hdims == 2)
        if areal.size:
            # For two polygons, "intersects and not touches" means the interiors meet, which is exactly a
            # positive-area overlap; an edge-only contact is not membership. Both predicates run prepared.
            geoms = hgeoms[areal]
            tree = shapely.STRtree(geoms)
            ri, hi = tree.query(rgeoms, predicate="intersects")
            inside = ~shapely.touches(rgeoms[ri], geoms[hi])
            out_r.append(rpos[ri[inside]])
            out_h.append(holders[areal[hi[inside]]])
    except shapely.errors.GEOSException as exc:
        invalid_units = holders[~shapely.is_valid(hgeoms)]
        invalid_regions = rpos[~shapely.is_valid(rgeoms)]
        raise InputError(
            f"几何图形无效，无法判断区域归属（单元 {_names(units.ids, invalid_units) or '-'}；区域 "
            f"{_names(regions.ids, invalid_regions) or '-'}） / invalid geometry, cannot decide region "
            f"membership: {exc}") from None
    if not out_r:
        return empty, empty
    return np.concatenate(out_r).astype(np.int64), np.concatenate(out_h).astype(np.int64)


# ---------------------------------------------------------------------------------------------------------
# Aggregation


@dataclass
class _Members:
    """A region's slice of the shared, sorted pair arrays: the unit list is built only when asked for."""

    context: _Context
    start: int
    stop: int

    def contributions(self) -> list[Contribution]:
        ctx = self.context
        units = ctx.units
        out = []
        for pos in range(self.start, self.stop):
            u = int(ctx.unit[pos])
            via = int(ctx.via[pos])
            out.append(Contribution(
                str(units.ids[u]), str(units.names[u]), _LEVEL_OF_RANK[int(units.rank[u])],
                units.weight_values[int(units.weight_codes[u])], MEMBERSHIPS[int(ctx.kind[pos])],
                None if via < 0 else str(units.ids[via])))
        return out


@dataclass
class _Context:
    units: _Units
    unit: np.ndarray
    kind: np.ndarray
    via: np.ndarray


def _sorted_pairs(pairs: _Pairs, rank: np.ndarray, n_regions: int, n_units: int) -> np.ndarray:
    """Order by region, then level (highest first), then the units' input order."""
    r, u = pairs.region, pairs.unit
    inv = (4 - rank[u]).astype(np.int64)
    if n_regions * 5 * max(n_units, 1) < 2**62:
        return np.argsort((r * 5 + inv) * max(n_units, 1) + u)
    return np.lexsort((u, inv, r))


def _weight_ints(units: _Units, n_terms: int) -> np.ndarray:
    """Exact weights as integers on a common scale 10^-k (so Σwᵢsᵢ / Σwᵢ is a ratio of integers)."""
    tuples = [w.as_tuple() for w in units.weight_values]
    scale = max([0] + [-t.exponent for t in tuples])
    ints = [int("".join(map(str, t.digits)) or "0") * 10 ** (t.exponent + scale) for t in tuples]
    big = max(ints) * 4 * max(n_terms, 1) >= 2**62
    table = np.array(ints, dtype=object if big else np.int64)
    return table[units.weight_codes]


def _evaluation_of(event: RiskEvent, which: str) -> Evaluation | None:
    if which == INHERENT:
        if event.inherent is not None:
            return event.inherent
        if event.inherent_level is not None:
            return None
    return event.residual


def _event_ref(event: RiskEvent, which: str) -> EventRef:
    ev = _evaluation_of(event, which)
    overrides = list(ev.overrides) if ev is not None else []
    if event.override is not None:
        overrides.append(event.override)
    return EventRef(
        name=event.name, id=event.id, level=event.level(which),
        method=ev.method if ev is not None else event.method,
        profile=ev.profile if ev is not None else None,
        score=ev.score if ev is not None else None,
        computed_level=ev.computed_level if ev is not None else None,
        band=ev.band if ev is not None else None,
        inputs=dict(ev.inputs) if ev is not None else dict(event.inputs),
        overrides=tuple(overrides),
    )


def _aggregate(regions: _Regions, units: _Units, pairs: _Pairs, method: str, which: str,
               cap: bool) -> list[RegionRisk]:
    n_regions, n_units = len(regions.ids), len(units.ids)
    order = _sorted_pairs(pairs, units.rank, n_regions, n_units)
    r = pairs.region[order]
    u = pairs.unit[order]
    kind = pairs.kind[order]
    via = pairs.via[order]
    rank = units.rank[u].astype(np.int64)
    bounds = np.searchsorted(r, np.arange(n_regions + 1))
    first, stop = bounds[:-1], bounds[1:]
    nonempty = stop > first
    top = np.zeros(n_regions, dtype=np.int64)
    top[nonempty] = rank[first[nonempty]]
    counts = np.bincount(r * 5 + rank, minlength=n_regions * 5).reshape(n_regions, 5)

    decider = np.where(top > 0, first, -1)    # position in the sorted pairs
    level_rank = top.copy()
    uncapped = np.zeros(n_regions, dtype=np.int64)
    capped = np.zeros(n_regions, dtype=bool)
    num = den = None
    if method == "weighted":
        levelled = rank > 0
        w = _weight_ints(units, len(u))[u]
        w = np.where(levelled, w, 0)
        zero = np.zeros(1, dtype=w.dtype)
        cum_w = np.concatenate([zero, np.cumsum(w)])
        cum_ws = np.concatenate([zero, np.cumsum(w * rank)])
        den = cum_w[stop] - cum_w[first]
        num = cum_ws[stop] - cum_ws[first]
        has = top > 0
        if has.any():
            # floor(S + 0.5) = floor((2·num + den) / (2·den)), in integers: exact at .5.
            uncapped[has] = ((2 * num[has] + den[has]) // (2 * den[has])).astype(np.int64)
        level_rank = uncapped.copy()
        if cap:
            capped = has & (uncapped < top - 1)
            level_rank[capped] = top[capped] - 1
        # The deciding unit: the heaviest member at the region's level (the highest unit when capped or
        # when no member has exactly that level).
        cand = np.flatnonzero(levelled & (rank == level_rank[r]))
        if cand.size:
            _, w_rank = np.unique(w[cand], return_inverse=True)
            pick = np.lexsort((cand, -w_rank.astype(np.int64), r[cand]))
            cand = cand[pick]
            lead = np.ones(len(cand), dtype=bool)
            lead[1:] = r[cand][1:] != r[cand][:-1]
            chosen = np.full(n_regions, -1, dtype=np.int64)
            chosen[r[cand[lead]]] = cand[lead]
            use = (chosen >= 0) & ~capped
            decider = np.where(use, chosen, decider)

    context = _Context(units, u, kind, via)
    rule_zh, rule_en = RULES[method]
    if method == "weighted" and cap:
        rule_zh, rule_en = f"{rule_zh}，{CAP_RULE[0]}", f"{rule_en}, {CAP_RULE[1]}"
    objects = units.objects
    results = []
    for i in range(n_regions):
        level = _LEVEL_OF_RANK[int(level_rank[i])]
        unit_ref = event_ref = None
        pos = int(decider[i])
        if pos >= 0:
            k = int(u[pos])
            v = int(via[pos])
            unit_obj = objects[k] if objects is not None else None
            unit_ref = UnitRef(str(units.ids[k]), str(units.names[k]), _LEVEL_OF_RANK[int(units.rank[k])],
                               MEMBERSHIPS[int(kind[pos])], None if v < 0 else str(units.ids[v]),
                               unit_obj.override if unit_obj is not None else None,
                               tuple(sorted(unit_obj.placements)) if unit_obj is not None else ())
            if unit_obj is not None and unit_obj.override is None:
                event = unit_obj.deciding_event(which)
                if event is not None:
                    event_ref = _event_ref(event, which)
        score = None
        if method == "weighted" and top[i] > 0:
            score = Decimal(int(num[i])) / Decimal(int(den[i]))
        row = counts[i]
        results.append(RegionRisk(
            region_id=regions.ids[i], name=regions.names[i], level=level, method=method, which=which,
            score=score, decided_by=unit_ref, deciding_event=event_ref, rule_zh=rule_zh, rule_en=rule_en,
            counts={lv: int(row[lv.rank]) for lv in LEVELS_HIGH_TO_LOW}, unlevelled=int(row[0]),
            highest_level=_LEVEL_OF_RANK[int(top[i])],
            uncapped_level=_LEVEL_OF_RANK[int(uncapped[i])] if method == "weighted" else None,
            capped=bool(capped[i]),
            _members=_Members(context, int(first[i]), int(stop[i])),
        ))
    return results


def region_risk(regions: Iterable[Region] | Any, units: Iterable[AssessmentUnit] | Any, method: str = "highest",
                which: str = RESIDUAL,
                cap_below_highest: bool = True) -> list[RegionRisk]:
    """The level of each region, with the unit, event and rule that decided it, in the regions' order.

    `regions`: a list of Region or a GeoDataFrame (id, name, geometry, optional unit_id).
    `units`: a list of AssessmentUnit, a UnitTree, or a GeoDataFrame (id, name, parent_id, level, weight,
    geometry; optional inherent_level). A unit belongs to a region when the region's own unit is the unit or
    one of its ancestors, else when its geometry (or its nearest ancestor's) overlaps the region with positive
    area (polygons) or lies inside it (points, lines). `cap_below_highest` comes from the criteria profile.
    """
    if method not in METHODS:
        raise InputError(f"未知的区域风险方法 “{method}”，应为 highest（短板原理）或 weighted（综合加权） / "
                         f"unknown region method {method!r}: use highest or weighted")
    if which not in (RESIDUAL, INHERENT):
        raise InputError(f"未知的风险类别 “{which}”，应为 residual（现有风险）或 inherent（固有风险） / "
                         f"unknown risk kind {which!r}: use residual or inherent")
    unit_cols = _units_from_frame(units, which) if _is_frame(units) else _units_from_objects(units, which)
    region_cols = _regions_columns(regions)
    pairs = _memberships(region_cols, unit_cols)
    return _aggregate(region_cols, unit_cols, pairs, method, which, cap_below_highest)
