"""The hidden-hazard record (隐患信息) as a plain typed object, and the checks of its fields.

Every field of the national record (HAZARDS.md §4) plus what enterprises use: where it is (a lon/lat point or
area, or the unit / layout feature it belongs to), the risk unit, event and control measure it shows failed, the
rectification plan of a major hazard. Codes are checked against riskmap.hazards.reference (data, not literals).
No database and no web here: the workflow (riskmap.hazards.workflow) changes records, the store keeps them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import shapely
from shapely.geometry import shape

from riskmap.clock import local_date
from riskmap.errors import InputError, RiskmapError
from riskmap.hazards import reference

MAX_NAME = 200
MAX_TEXT = 4000          # riskMeasureDesc's limit; descriptions, causes, measures, notes
MAX_PERSON = 200
MAX_CODE = 200
MAX_COST = Decimal("1e12")
MAX_VERTICES = 2000
# How far from the plant's layout a hazard may be placed (a mistyped coordinate lands in another province).
MAX_DISTANCE_M = 5000.0

# The parts of a major hazard's rectification plan (整改方案), HAZARDS.md §2: key → (Chinese, English).
PLAN_PARTS: dict[str, tuple[str, str]] = {
    "goal": ("治理的目标和任务", "goal and tasks"),
    "methods": ("采取的方法和措施", "methods and measures"),
    "funds": ("经费和物资的落实", "funds and materials"),
    "organisation": ("负责治理的机构和人员", "organisation and people"),
    "schedule": ("治理的时限和要求", "deadline and requirements"),
    "safety": ("安全措施和应急预案", "safety measures during the work"),
    "emergency": ("应急预案", "contingency plan"),
}


class State(StrEnum):
    """Where a hazard is in its closed loop (the enterprise's states; the national three are derived)."""

    REPORTED = "reported"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    ASSIGNED = "assigned"
    RECTIFYING = "rectifying"
    AWAITING = "awaiting_acceptance"
    ACCEPTED = "accepted"
    CLOSED = "closed"


STATE_LABELS: dict[State, tuple[str, str]] = {
    State.REPORTED: ("已上报", "reported"), State.CONFIRMED: ("已确认", "confirmed"),
    State.REJECTED: ("已驳回（非隐患）", "rejected (not a hazard)"), State.ASSIGNED: ("已指派", "assigned"),
    State.RECTIFYING: ("整改中", "being rectified"), State.AWAITING: ("待验收", "awaiting acceptance"),
    State.ACCEPTED: ("已验收", "accepted"), State.CLOSED: ("已销号", "closed"),
}
# States in which a hazard is still open (not fixed and accepted, not rejected).
OPEN_STATES = frozenset({State.REPORTED, State.CONFIRMED, State.ASSIGNED, State.RECTIFYING, State.AWAITING})
DONE_STATES = frozenset({State.ACCEPTED, State.CLOSED})
GENERAL, MAJOR = 0, 1


class HazardInputError(InputError):
    """A hazard field outside what is allowed (the message names the field)."""


class TooManyReports(RiskmapError, http_status=429):
    """An anonymous report over the rate limit (per address, or the enterprise's daily total)."""


class FarFromPlantError(HazardInputError):
    """A location far from the plant's layout: most likely a mistyped or swapped coordinate."""


@dataclass(frozen=True)
class Hazard:
    """A hidden hazard: the national 隐患信息 fields, where it is, its plan, its state and who did what."""

    id: str                                  # national `id`: 32 hex characters, fixed forever
    name: str                                # dangerName
    state: State = State.REPORTED
    level: int = GENERAL                     # dangerLevel
    item: str | None = None                  # the determination item that makes it major (reference.items())
    source: int = 1                          # dangerSrc
    hazard_type: int = 8                     # hazardDangerType
    manage_type: int = reference.MANAGE_BY_DEADLINE   # dangerManageType
    category: int = 0                        # hazardCategory
    management_classification: int | None = None
    occurrence_link: int | None = None
    description: str | None = None           # dangerDesc
    cause: str | None = None                 # dangerReason
    rectification_measures: str | None = None   # controlMeasures
    cost: Decimal | None = None              # yuan
    liable_person: str | None = None         # liablePerson
    deadline: date | None = None             # dangerManageDeadline (a Beijing date)
    department: str | None = None
    unit_code: str | None = None             # the assessment unit (its user's id)
    risk_event_code: str | None = None       # the risk event (its id, or its position "#2" in the unit)
    control_index: int | None = None         # the control measure within the event (0-based)
    fid: str | None = None                   # a layout feature the hazard belongs to
    hazard_code: str | None = None           # the major-hazard installation code (重大危险源编码)
    check_record_id: str | None = None
    location: Any = None                     # shapely Point or Polygon in lon/lat, or None
    registrant: str | None = None
    registrant_id: int | None = None
    registered_at: datetime | None = None
    rectifier: str | None = None
    rectifier_id: int | None = None
    rectification_note: str | None = None
    plan: dict[str, str] = field(default_factory=dict)
    accept_person: str | None = None
    accept_person_id: int | None = None
    accept_at: datetime | None = None
    accept_comment: str | None = None
    extension: dict[str, Any] | None = None  # a pending request: {"deadline", "reason", "by", "by_id", "at"}
    comments: str | None = None
    version: int = 0
    anonymous: bool = False                  # reported by someone not signed in: withheld until confirmed

    @property
    def published(self) -> bool:
        """Whether readers may see it: an anonymous report is withheld until a manager confirms it (and for good
        when it is rejected)."""
        return not (self.anonymous and self.state in (State.REPORTED, State.REJECTED))

    @property
    def major(self) -> bool:
        """Whether this is a 重大隐患."""
        return self.level == MAJOR

    def danger_state(self) -> int | None:
        """The national dangerState (0 rectifying, 1 awaiting acceptance, 9 accepted), derived from the state;
        None for a rejected report (not a hazard: not exported)."""
        if self.state == State.REJECTED:
            return None
        if self.state == State.AWAITING:
            return 1
        if self.state in DONE_STATES:
            return 9
        return 0

    def is_open(self) -> bool:
        """Not yet fixed and accepted, and not rejected."""
        return self.state in OPEN_STATES

    def overdue(self, now: datetime) -> bool:
        """Not accepted and past its deadline: the deadline's day has ended in Beijing."""
        return self.is_open() and self.deadline is not None and local_date(now) > self.deadline


FIELD_NAMES = tuple(f.name for f in fields(Hazard))


# ---------------------------------------------------------------------------------------------- field checks


def text(value: Any, what: tuple[str, str], limit: int = MAX_TEXT, required: bool = False) -> str | None:
    """A text field: stripped, no control characters but line breaks, at most `limit` characters."""
    zh, en = what
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise HazardInputError(f"{zh}不能为空 / {en} is required")
        return None
    if not isinstance(value, str):
        raise HazardInputError(f"{zh}应为文本 / {en} must be text")
    value = value.strip()
    if len(value) > limit:
        raise HazardInputError(f"{zh}过长（最多 {limit} 字）/ {en} is longer than {limit} characters")
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        raise HazardInputError(f"{zh}含控制字符 / {en} holds control characters")
    return value


def code(table: str, value: Any, what: tuple[str, str], required: bool = False) -> int | None:
    """A national code: an integer of the table (a digit string is taken too)."""
    if value is None or value == "":
        if required:
            raise HazardInputError(f"{what[0]}不能为空 / {what[1]} is required")
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not reference.has_code(table, value):
        allowed = "、".join(f"{k} {v[0]}" for k, v in reference.codes()[table].items())
        raise HazardInputError(f"{what[0]}代码 {value!r} 无效，可选：{allowed} / {what[1]}: {value!r} is not a code "
                               f"of {table}")
    return value


def item(value: Any) -> str | None:
    """A determination item id (reference.items()), or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in reference.items():
        raise HazardInputError(f"没有判定标准条目 “{str(value)[:60]}”（格式如 chem-2017-121:6）/ no determination "
                               f"item {str(value)[:60]!r} (ids look like chem-2017-121:6)")
    return value


def money(value: Any) -> Decimal | None:
    """A cost in yuan: a number ≥ 0 (kept exact)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise HazardInputError("整改资金应为数字 / the cost must be a number")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise HazardInputError(f"整改资金应为数字，而不是 {str(value)[:40]!r} / the cost must be a number") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_COST:
        raise HazardInputError("整改资金应为 0 到 10¹² 元之间的数 / the cost must be between 0 and 10¹² yuan")
    return amount


def day(value: Any, what: tuple[str, str]) -> date | None:
    """A date (an ISO text is taken too)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return local_date(value)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise HazardInputError(f"{what[0]}应为日期（如 2026-12-31）/ {what[1]} must be a date like 2026-12-31") \
            from None


def index(value: Any) -> int | None:
    """A control measure's index within its event (0-based)."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1000:
        raise HazardInputError("管控措施序号应为 0 到 999 的整数 / the control index must be a whole number 0–999")
    return value


def location(value: Any) -> Any:
    """A point or polygon in lon/lat from GeoJSON (a dict) or a shapely geometry; checked to be on the earth."""
    if value is None:
        return None
    try:
        geom = value if isinstance(value, shapely.Geometry) else shape(value)
    except Exception:
        raise HazardInputError("位置应为 GeoJSON 点或面（经纬度）/ the location must be a GeoJSON Point or Polygon "
                               "in lon/lat") from None
    if geom.geom_type not in ("Point", "Polygon", "MultiPolygon") or geom.is_empty:
        raise HazardInputError(f"位置应为点或面，而不是 {geom.geom_type} / the location must be a Point or Polygon")
    if shapely.get_num_coordinates(geom) > MAX_VERTICES:
        raise HazardInputError(f"位置的顶点过多（最多 {MAX_VERTICES}）/ the location has more than {MAX_VERTICES} "
                               "vertices")
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)) or minx < -180 or maxx > 180 or miny < -90 \
            or maxy > 90:
        raise HazardInputError("位置不是有效的经纬度 / the location is not valid lon/lat")
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    return geom


def check_near(geom: Any, plant_bounds: tuple[float, float, float, float] | None,
               limit_m: float = MAX_DISTANCE_M) -> None:
    """Refuse a location farther than `limit_m` from the plant's layout extent (lon/lat bounds)."""
    if geom is None or plant_bounds is None:
        return
    minx, miny, maxx, maxy = plant_bounds
    cx, cy = geom.centroid.x, geom.centroid.y
    dx = max(minx - cx, 0.0, cx - maxx) * 111_320.0 * math.cos(math.radians((miny + maxy) / 2))
    dy = max(miny - cy, 0.0, cy - maxy) * 110_574.0
    distance = math.hypot(dx, dy)
    if distance > limit_m:
        raise FarFromPlantError(f"位置距厂区约 {distance / 1000:.1f} 公里，超出 {limit_m / 1000:g} 公里："
                                f"请检查经纬度 / the location is about {distance / 1000:.1f} km from the plant "
                                f"(more than {limit_m / 1000:g} km): check the coordinates")


def plan(value: Any) -> dict[str, str]:
    """A rectification plan: {part → text} with the parts of PLAN_PARTS only."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HazardInputError("整改方案应为对象（各部分 → 文本）/ the plan must be an object (part → text)")
    unknown = sorted(set(value) - set(PLAN_PARTS))
    if unknown:
        raise HazardInputError(f"整改方案没有这些部分：{', '.join(map(str, unknown))[:200]}；"
                               f"可用：{', '.join(PLAN_PARTS)} / unknown plan parts")
    out = {}
    for key, (zh, en) in PLAN_PARTS.items():
        found = text(value.get(key), (f"整改方案的“{zh}”", f"the plan's {en}"))
        if found:
            out[key] = found
    return out
