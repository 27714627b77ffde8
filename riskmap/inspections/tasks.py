"""Inspection tasks (隐患排查任务): one per control measure of the ledger, made by rules kept as data
(rules.yaml: per control class and tier), then edited one by one; plus the 包保 tasks of a major hazard installation.

Why a stable key: generating again after a new ledger must neither duplicate a task nor undo a person's edit. A
task's key names what it checks (unit, event, control position; or unit and 包保 work type and number); the store
creates tasks for new keys, leaves existing ones as they are and retires those whose control is gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from riskmap.clock import LOCAL_ZONE
from riskmap.domain import AssessmentUnit, ControlMeasure, RiskEvent
from riskmap.inspections.cadence import Cadence
from riskmap.inspections.errors import CadenceError, RecordError

RULES_FILE = Path(__file__).with_name("rules.yaml")
# workType (national): 0 routine, 1 principal-in-charge, 2 technical head, 3 operations head (三级包保责任人).
WORK_TYPES = {0: ("日常排查", "routine"), 1: ("主要负责人", "principal in charge"),
              2: ("技术负责人", "technical head"), 3: ("操作负责人", "operations head")}
# taskNum indexes each 包保 person's national task list: 1–9, 1–9, 1–10.
TASK_NUM_MAX = {1: 9, 2: 9, 3: 10}
WHO_KINDS = {"post": ("岗位", "post"), "department": ("部门", "department"), "person": ("人员", "person"),
             "role": ("角色", "role")}
MAX_ITEMS = 50
MAX_ITEM_TEXT = 500
# Namespace of the national ids riskmap derives (a record's `id` must stay fixed forever).
ID_NAMESPACE = uuid.UUID("6f1d2c1e-5b7a-4c55-9a53-0e7c2a1d9b14")


@dataclass(frozen=True)
class Assignee:
    """Who checks: a post, a department, a person or a role (value None: anyone who may inspect), with the national
    workType and, for a 包保 person, taskNum."""

    kind: str = "post"
    value: str | None = None
    work_type: int = 0
    task_num: int | None = None

    def check(self) -> None:
        """CadenceError naming what is wrong (kind, workType, taskNum, value)."""
        if self.kind not in WHO_KINDS:
            raise CadenceError(f"执行人类型应为 {'、'.join(WHO_KINDS)}，而不是 {self.kind!r} / who must be one of "
                               f"{', '.join(WHO_KINDS)}, not {self.kind!r}")
        if self.work_type not in WORK_TYPES:
            raise CadenceError(f"workType 应为 0–3，而不是 {self.work_type!r} / workType is 0 to 3")
        if self.work_type == 0 and self.task_num is not None:
            raise CadenceError("日常排查任务没有 taskNum / a routine task has no taskNum")
        if self.work_type and (self.task_num is None or not 1 <= self.task_num <= TASK_NUM_MAX[self.work_type]):
            top = TASK_NUM_MAX[self.work_type]
            raise CadenceError(f"{WORK_TYPES[self.work_type][0]}的 taskNum 应为 1–{top} / taskNum of work type "
                               f"{self.work_type} is 1 to {top}")
        if self.value is not None and (len(self.value) > 200 or any(ord(c) < 32 for c in self.value)):
            raise CadenceError("执行人过长或含控制字符 / who is too long or holds control characters")


@dataclass
class Task:
    """One inspection task: what to check (items), where (unit, layout feature), who, and its cadence."""

    key: str
    unit_code: str
    title: str
    items: list[str]
    cadence: Cadence
    assignee: Assignee
    starts_on: date
    event_code: str | None = None
    control_index: int | None = None
    control_text: str | None = None
    control_class: str | None = None
    tier: str | None = None
    fid: str | None = None
    active: bool = True
    id: int | None = None
    row_version: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def is_guarantor(self) -> bool:
        """Whether this is a 包保 task (isDefend in the national record)."""
        return self.assignee.work_type != 0

    def national(self, enterprise: str) -> dict:
        """The national 隐患排查任务 row (without the common columns the exchange adds)."""
        cad = self.cadence.national()
        return {"id": national_id(enterprise, "task", self.key),
                "riskMeasureId": None if self.control_index is None else national_id(enterprise, "measure",
                                                                                     measure_key(self.key)),
                "troubleshootContent": "；".join(self.items)[:4000], **cad,
                "taskStartTime": datetime.combine(self.starts_on, time(0, 0), LOCAL_ZONE).strftime(
                    "%Y-%m-%d %H:%M:%S"),
                "workType": self.assignee.work_type, "taskNum": self.assignee.task_num,
                "deleted": "0" if self.active else "1"}


def national_id(enterprise: str, what: str, key: str) -> str:
    """A UUID fixed forever for one item of one enterprise (what: task, measure, record)."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{enterprise}\x1f{what}\x1f{key}"))


def measure_key(task_key: str) -> str:
    """The control measure's part of a task key (unit|event|control)."""
    return "|".join(task_key.split("|")[:3])


def check_items(items: Sequence[Any]) -> list[str]:
    """The checklist as stored: 1 to MAX_ITEMS non-empty texts of at most MAX_ITEM_TEXT characters, no repeats."""
    out: list[str] = []
    for item in items:
        text = str(item).strip() if isinstance(item, str) else None
        if not text or len(text) > MAX_ITEM_TEXT or any(ord(c) < 32 for c in text):
            raise RecordError(f"检查项应为 1–{MAX_ITEM_TEXT} 字的文字，不含控制字符 / a checklist item is a text "
                              f"of 1 to {MAX_ITEM_TEXT} characters without control characters")
        if text not in out:
            out.append(text)
    if not 1 <= len(out) <= MAX_ITEMS:
        raise RecordError(f"检查项应有 1–{MAX_ITEMS} 项 / a checklist has 1 to {MAX_ITEMS} items")
    return out


@dataclass(frozen=True)
class Rules:
    """The generation rules (rules.yaml), parsed and checked once."""

    rules: tuple[dict, ...]
    default: dict
    items: dict[str, list[str]]
    guarantors: tuple[dict, ...]

    def for_control(self, control: ControlMeasure) -> dict:
        """The first rule matching the control's class and tier (the default when none does)."""
        cls = (control.cls or "").strip()
        for rule in self.rules:
            classes = [str(c) for c in rule.get("class", ())]
            tiers = rule.get("tier")
            if classes and not any(cls == c or (c.isdigit() and cls.split("-")[0] == c) for c in classes):
                continue
            if tiers and control.tier not in tiers:
                continue
            return rule
        return self.default

    def items_for(self, control: ControlMeasure) -> list[str]:
        """The control's own text, then the class's standard items."""
        cls = (control.cls or "").strip().split("-")[0]
        return check_items([control.description[:MAX_ITEM_TEXT], *self.items.get(cls, self.items.get("", []))])


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> Rules:
    """The rules of a YAML file (riskmap's own by default); each cadence and who checked at load."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = tuple(data.get("rules") or ())
    for rule in (*rules, data["default"], *data.get("guarantors", ())):
        Cadence.parse(rule["cadence"])
        if "who" in rule:
            Assignee(kind=rule["who"]).check()
    return Rules(rules, data["default"], {str(k): list(v) for k, v in (data.get("items") or {}).items()},
                 tuple(data.get("guarantors") or ()))


def generate_tasks(units: Iterable[AssessmentUnit], *, starts_on: date, rules: Rules | None = None) -> list[Task]:
    """The tasks the rules make from every control measure of every unit, and the 包保 tasks of each unit that is a
    major hazard installation (ledger field major_hazard); keys are stable across runs."""
    rules = rules or load_rules()
    out: list[Task] = []
    for unit in units:
        for pos, event in enumerate(unit.events):
            for ci, control in enumerate(event.controls):
                out.append(_control_task(unit, event, pos, ci, control, rules, starts_on))
        if unit.major_hazard:
            out += _guarantor_tasks(unit, rules, starts_on)
    return out


def _control_task(unit: AssessmentUnit, event: RiskEvent, pos: int, ci: int, control: ControlMeasure, rules: Rules,
                  starts_on: date) -> Task:
    rule = rules.for_control(control)
    who = rule.get("who", "department")
    value = {"post": unit.name, "department": control.department or unit.department,
             "person": control.person or unit.responsible_person, "role": rule.get("role")}[who]
    event_key = event.id or f"#{pos + 1}"
    return Task(key=f"{unit.id}|{event_key}|{ci + 1}", unit_code=unit.id,
                title=f"{unit.name}：{control.description}"[:200], items=rules.items_for(control),
                cadence=Cadence.parse(rule["cadence"]), assignee=Assignee(kind=who, value=value),
                starts_on=starts_on, event_code=event.id, control_index=ci + 1, control_text=control.description,
                control_class=control.cls, tier=control.tier, fid=unit.feature_ref)


def _guarantor_tasks(unit: AssessmentUnit, rules: Rules, starts_on: date) -> list[Task]:
    out = []
    for g in rules.guarantors:
        for num in g.get("task_nums", (1,)):
            assignee = Assignee(kind="role", value=f"包保{g['role']}", work_type=int(g["work_type"]),
                                task_num=int(num))
            assignee.check()
            out.append(Task(key=f"{unit.id}|包保|{assignee.work_type}|{num}", unit_code=unit.id,
                            title=f"{unit.name}：重大危险源包保履职检查（{g['role']}，任务 {num}）",
                            items=check_items([f"按包保责任清单第 {num} 项履职检查 / duty {num} of the guarantor's "
                                               "list", "重大危险源监测监控、安全设施运行正常 / monitoring and safety "
                                               "facilities of the installation work"]),
                            cadence=Cadence.parse(g["cadence"]), assignee=assignee, starts_on=starts_on,
                            fid=unit.feature_ref))
    return out


def edited(task: Task, changes: dict[str, Any]) -> Task:
    """The task with the changes of an edit (title, items, cadence, who, fid, active, starts_on), checked."""
    allowed = {"title", "items", "cadence", "assignee", "fid", "active", "starts_on"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise CadenceError(f"不能修改任务的 {unknown} / a task's {unknown} cannot be edited")
    new = dict(changes)
    if "items" in new:
        new["items"] = check_items(new["items"])
    if "cadence" in new and not isinstance(new["cadence"], Cadence):
        new["cadence"] = Cadence.parse(new["cadence"])
    if "assignee" in new and not isinstance(new["assignee"], Assignee):
        new["assignee"] = assignee_of(new["assignee"])
    if "title" in new:
        title = str(new["title"] or "").strip()
        if not title or len(title) > 200:
            raise CadenceError("任务名称应为 1–200 字 / a task's title has 1 to 200 characters")
        new["title"] = title
    return replace(task, **new)


def assignee_of(data: dict[str, Any]) -> Assignee:
    """An Assignee from its dict, checked."""
    if not isinstance(data, dict) or set(data) - {"kind", "value", "work_type", "task_num"}:
        raise CadenceError("执行人应为 {kind, value, work_type, task_num} / who is {kind, value, work_type, task_num}")
    made = Assignee(kind=str(data.get("kind", "post")), value=data.get("value"),
                    work_type=data.get("work_type", 0), task_num=data.get("task_num"))
    made.check()
    return made


def is_assigned(task: Task, *, name: str, post: str | None = None, department: str | None = None,
                roles: Iterable[str] = ()) -> bool:
    """Whether a person may check this task: its person, someone of its post or department, or holding its role
    (a task without a value is anyone's)."""
    who = task.assignee
    if who.value is None:
        return True
    return {"person": name, "post": post, "department": department}.get(who.kind) == who.value or \
        (who.kind == "role" and who.value in set(roles))
