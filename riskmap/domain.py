"""The domain as plain typed objects: enterprise, assessment unit tree, risk events, controls, regions.

No database, no web: storage and interfaces translate to and from these.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from riskmap.levels import Level, highest


class UnitKind(str, Enum):
    """The kinds of assessment unit, main unit down to the leaves; the value is what ledgers and JSON store."""

    MAIN = "main"            # 主单元
    SUB = "sub"              # 分单元
    SUBSUB = "subsub"        # 子单元
    POST = "post"            # 岗位单元
    EQUIPMENT = "equipment"  # 设备设施
    ACTIVITY = "activity"    # 作业活动

    @property
    def zh(self) -> str:
        """The kind's Chinese name as ledgers and prints write it (主单元, 岗位 …)."""
        return _KIND_ZH[self]

    @property
    def depth(self) -> int:
        """Where the kind sits in a unit tree: 0 main unit, 1 sub-unit, 2 sub-sub-unit, 3 the leaves (posts,
        equipment, activities); it orders units that share one shape (the shallower owns and is drawn first)."""
        return _KIND_DEPTH.get(self, LEAF_DEPTH)

    @classmethod
    def parse(cls, value: object) -> UnitKind:
        """A kind from its code, Chinese name or a common alias (设备, 作业 …); ValueError naming the allowed kinds."""
        text = str(value).strip()
        for kind in cls:
            if text.lower() == kind.value or text == kind.zh or text in _KIND_ALIASES.get(kind, ()):
                return kind
        allowed = "、".join(f"{k.zh}({k.value})" for k in cls)
        raise ValueError(f"无法识别的单元类型 “{text}”，应为：{allowed} / unknown unit kind {text!r}")


LEAF_DEPTH = 3
_KIND_DEPTH = {UnitKind.MAIN: 0, UnitKind.SUB: 1, UnitKind.SUBSUB: 2}
_KIND_ZH = {UnitKind.MAIN: "主单元", UnitKind.SUB: "分单元", UnitKind.SUBSUB: "子单元",
            UnitKind.POST: "岗位", UnitKind.EQUIPMENT: "设备设施", UnitKind.ACTIVITY: "作业活动"}
_KIND_ALIASES = {UnitKind.POST: ("岗位单元",), UnitKind.EQUIPMENT: ("设备", "设施", "设备单元"),
                 UnitKind.ACTIVITY: ("作业", "活动", "作业单元"), UnitKind.SUB: ("子系统",)}

# Which levels an event carries: residual (现有风险, with existing controls) is what maps show by default.
RESIDUAL = "residual"
INHERENT = "inherent"


@dataclass
class Enterprise:
    """An enterprise as a ledger or the store names it; the three phones are printed on the notice board."""

    id: str
    name: str
    short_name: str | None = None
    supervision_phone: str | None = None
    report_phone: str | None = None
    emergency_phone: str | None = None


@dataclass
class ControlMeasure:
    """One control measure (管控措施) of a risk event."""

    description: str
    cls: str | None = None            # class code of DOMAIN.md §6, e.g. "1-1", or a column name such as 管理
    tier: str | None = None           # control tier (管控层级): company / department / team / post
    department: str | None = None     # responsible department (责任部门)
    person: str | None = None         # responsible person (责任人)


@dataclass
class Override:
    """A forced level (e.g. 直接判定为重大风险), recorded with its reason beside the computed score."""

    level: Level
    reason: str
    rule: str | None = None           # e.g. "direct:mandatory-clause", "major-hazard", "manual"


@dataclass
class Evaluation:
    """The result of evaluating one set of method inputs under a criteria profile."""

    profile: str
    method: str                       # "lec", "ls", "direct"
    inputs: dict[str, Any]
    score: Decimal | None
    grade: int | None
    computed_level: Level             # what the score alone gives
    level: Level                      # after overrides
    overrides: list[Override] = field(default_factory=list)
    band: str | None = None           # human-readable band, e.g. "160 ≤ D < 320"


@dataclass
class RiskEvent:
    """A risk event (风险事件) of a unit: one hazard, its accident type, evaluation and controls."""

    name: str
    id: str | None = None
    hazard_factor: str | None = None          # 危险有害因素 / 危险源
    hazard_code: str | None = None            # GB/T 13861 code
    accident_type: str | None = None          # as written in the ledger (1986 or 2025 list)
    accident_type_2025: str | None = None     # mapped onto GB 6441-2025, original kept above
    cause: str | None = None
    consequence: str | None = None
    impact_range: str | None = None
    method: str | None = None                 # criteria profile name, e.g. "lec", "ls"
    inputs: dict[str, Any] = field(default_factory=dict)           # residual (with existing controls)
    inherent_inputs: dict[str, Any] = field(default_factory=dict)  # before controls, optional
    residual: Evaluation | None = None
    inherent: Evaluation | None = None
    residual_level: Level | None = None       # given directly when there is no evaluation
    inherent_level: Level | None = None
    existing_measures: str | None = None
    measure_effectiveness: str | None = None  # 现有措施有效性
    controls: list[ControlMeasure] = field(default_factory=list)
    emergency_measures: str | None = None
    override: Override | None = None
    direct_rules: list[str] = field(default_factory=list)   # names of direct-determination rules that apply
    location: str | None = None               # place / part / step (Jiangsu art. 11)

    def level(self, which: str = RESIDUAL) -> Level | None:
        """The event's level: an override wins, then the evaluation, then a directly given level."""
        if self.override is not None:
            return self.override.level
        if which == INHERENT:
            if self.inherent is not None:
                return self.inherent.level
            return self.inherent_level or self.level(RESIDUAL)
        if self.residual is not None:
            return self.residual.level
        return self.residual_level


@dataclass
class AssessmentUnit:
    """A node of the assessment unit tree: main unit → sub-unit → … → post/equipment/activity."""

    id: str
    name: str
    kind: UnitKind = UnitKind.POST
    parent_id: str | None = None
    geometry: Any = None                      # shapely geometry in lon/lat (EPSG:4326), or None
    feature_ref: str | None = None            # a layout feature's id or name this unit is attached to
    weight: Decimal = Decimal(1)              # for the weighted region method, e.g. people exposed
    events: list[RiskEvent] = field(default_factory=list)
    override: Override | None = None
    last_assessed: date | None = None
    department: str | None = None
    responsible_person: str | None = None
    work_content: str | None = None           # 作业内容 (post cards)
    workplace: str | None = None              # 作业场所
    major_hazard: dict[str, Any] | None = None  # GB 18218: {"people_500m": n, "substances": [...]}
    placements: dict[str, str] = field(default_factory=dict)   # drawing key → its feature there (riskmap.drawings)

    def level(self, which: str = RESIDUAL) -> Level | None:
        """The unit's level: its override, else the highest of its events' levels."""
        if self.override is not None:
            return self.override.level
        return highest(ev.level(which) for ev in self.events)

    def deciding_event(self, which: str = RESIDUAL) -> RiskEvent | None:
        """The first event with the unit's highest level (what decided the colour)."""
        top = highest(ev.level(which) for ev in self.events)
        for ev in self.events:
            if top is not None and ev.level(which) == top:
                return ev
        return None


@dataclass
class Region:
    """A production region (生产区域) on the map; it takes its level from the units in it."""

    id: str
    name: str
    geometry: Any = None                      # shapely polygon in lon/lat
    unit_id: str | None = None                # the region's own assessment unit, if the tree names one
    feature_ref: str | None = None


class UnitTree:
    """The assessment units of one enterprise, indexed by id, with ancestor look-ups."""

    def __init__(self, units: Iterable[AssessmentUnit]):
        self.units: dict[str, AssessmentUnit] = {}
        for unit in units:
            if unit.id in self.units:
                raise ValueError(f"单元编号重复：{unit.id} / duplicate unit id {unit.id!r}")
            self.units[unit.id] = unit
        self._children: dict[str | None, list[str]] = {}
        for unit in self.units.values():
            self._children.setdefault(unit.parent_id, []).append(unit.id)
        self._check()

    def _check(self) -> None:
        for unit in self.units.values():
            if unit.parent_id is not None and unit.parent_id not in self.units:
                raise ValueError(f"单元 {unit.id} 的上级单元 {unit.parent_id} 不存在 / "
                                 f"unit {unit.id!r} has unknown parent {unit.parent_id!r}")
        for unit in self.units.values():
            seen = {unit.id}
            cur = unit.parent_id
            while cur is not None:
                if cur in seen:
                    raise ValueError(f"单元 {unit.id} 的上级关系形成循环 / parent cycle at unit {unit.id!r}")
                seen.add(cur)
                cur = self.units[cur].parent_id

    def __iter__(self) -> Iterator[AssessmentUnit]:
        return iter(self.units.values())

    def __len__(self) -> int:
        return len(self.units)

    def __getitem__(self, unit_id: str) -> AssessmentUnit:
        return self.units[unit_id]

    def children(self, unit_id: str | None) -> list[AssessmentUnit]:
        """The direct children of a unit, in the order the units were given; `None` gives the root units."""
        return [self.units[c] for c in self._children.get(unit_id, [])]

    def ancestors(self, unit_id: str) -> list[AssessmentUnit]:
        """Parent first, root last."""
        out = []
        cur = self.units[unit_id].parent_id
        while cur is not None:
            out.append(self.units[cur])
            cur = self.units[cur].parent_id
        return out

    def descendants(self, unit_id: str) -> list[AssessmentUnit]:
        """Every unit below `unit_id` (not itself), at any depth, in no promised order."""
        out, stack = [], [unit_id]
        while stack:
            for child in self.children(stack.pop()):
                out.append(child)
                stack.append(child.id)
        return out

    def located_geometry(self, unit_id: str) -> tuple[Any, str | None]:
        """The unit's own geometry, else its nearest ancestor's: (geometry, id of the unit that had it)."""
        unit = self.units[unit_id]
        if unit.geometry is not None:
            return unit.geometry, unit.id
        for anc in self.ancestors(unit_id):
            if anc.geometry is not None:
                return anc.geometry, anc.id
        return None, None
