"""Check records (隐患排查记录): one inspector's answers to a task's checklist for one window, never edited.

Why append-only: a record is evidence that a control held at a moment. A correction is a new record that names
the one it corrects (`corrects`); the newer one counts, the older one stays readable. The national `checkStatus` is
derived from the answers (0 normal, 1 hazard found, 2 not checked) or stated as 3 (other) with a note; a failed
item becomes a pre-filled hidden-hazard draft (source 1 日常排查) for the hazards room.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from riskmap.clock import LOCAL_ZONE
from riskmap.inspections.errors import RecordError
from riskmap.inspections.tasks import Task, national_id

RESULTS = {"pass": ("正常", "pass"), "fail": ("异常/发现隐患", "fail"), "na": ("不适用", "not applicable")}
CHECK_STATUS = {0: ("正常", "normal"), 1: ("发现隐患", "hazard found"), 2: ("未检查", "not checked"),
                3: ("其他", "other")}
MAX_NOTE = 1000
MAX_DEVICE = 200
# dangerSrc of a hazard found by a routine check (HAZARDS.md §4): 1 日常排查.
DAILY_CHECK_SOURCE = 1


@dataclass(frozen=True)
class ItemResult:
    """The answer to one checklist item."""

    item: str
    result: str
    note: str | None = None


@dataclass(frozen=True)
class CheckRecord:
    """A saved check: who, when, with what device, the answers, the derived national status."""

    task_id: int | None
    window_start: datetime
    window_end: datetime
    checked_at: datetime
    person: str
    items: tuple[ItemResult, ...]
    status: int
    late: bool = False
    device: str | None = None
    note: str | None = None
    corrects: int | None = None
    account_id: int | None = None
    id: int | None = None
    recorded_at: datetime | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def failed(self) -> list[ItemResult]:
        """The items answered "fail"."""
        return [i for i in self.items if i.result == "fail"]

    def national(self, enterprise: str, task: Task) -> dict:
        """The national 隐患排查记录 row (common columns aside)."""
        return {"id": national_id(enterprise, "record", str(self.id)),
                "checkTaskId": national_id(enterprise, "task", task.key),
                "checkTime": self.checked_at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M:%S"),
                "mobileMe": self.device, "isDefend": "1" if task.is_guarantor else "0",
                "checkStatus": self.status}


def answers_of(task: Task, answers: Sequence[dict[str, Any]]) -> tuple[ItemResult, ...]:
    """The answers checked against the task's checklist: each item once, by its text or 1-based number; results
    pass / fail / na; a failed item needs no note but may have one. Items not answered are refused (a check is
    complete or it is not saved)."""
    if not isinstance(answers, (list, tuple)) or len(answers) > len(task.items):
        raise RecordError(f"答案应为列表，最多 {len(task.items)} 项 / answers are a list of at most "
                          f"{len(task.items)} items")
    by_item: dict[str, ItemResult] = {}
    for raw in answers:
        if not isinstance(raw, dict) or set(raw) - {"item", "result", "note"}:
            raise RecordError("每个答案应为 {item, result, note} / each answer is {item, result, note}")
        item = _item_text(task, raw.get("item"))
        result = str(raw.get("result", "")).strip().lower()
        if result not in RESULTS:
            raise RecordError(f"结果应为 pass（正常）、fail（异常）或 na（不适用），而不是 {str(result)[:20]!r} / "
                              "a result is pass, fail or na")
        if item in by_item:
            raise RecordError(f"检查项重复回答：{item[:40]} / item answered twice")
        by_item[item] = ItemResult(item, result, clean_note(raw.get("note")))
    missing = [i for i in task.items if i not in by_item]
    if missing:
        raise RecordError(f"还有 {len(missing)} 项未回答（如 “{missing[0][:40]}”）/ {len(missing)} items not "
                          "answered")
    return tuple(by_item[i] for i in task.items)


def check_status(items: Sequence[ItemResult], *, other: bool = False, note: str | None = None) -> int:
    """The national checkStatus: 3 when stated as other (a note then required), 1 when an item failed, 2 when no
    item could be checked (all not applicable), else 0."""
    if other:
        if not note:
            raise RecordError("状态“其他”需要说明 / status other needs a note")
        return 3
    if any(i.result == "fail" for i in items):
        return 1
    if all(i.result == "na" for i in items):
        return 2
    return 0


def hazard_drafts(task: Task, record: CheckRecord, *, unit_name: str | None = None) -> list[dict]:
    """One pre-filled hidden-hazard draft per failed item, for the hazards room to open (the lead wires it)."""
    out = []
    for item in record.failed:
        out.append({
            "unit_id": task.unit_code, "unit_name": unit_name, "event_id": task.event_code,
            "control_measure": task.control_text, "control_index": task.control_index, "fid": task.fid,
            "place": unit_name or task.unit_code, "source": DAILY_CHECK_SOURCE, "source_zh": "日常排查",
            "check_record_id": record.id, "task_id": task.id, "item": item.item,
            "description": item.note or f"检查项不符合：{item.item}",
            "found_at": record.checked_at.isoformat(), "found_by": record.person,
            "hazard_category": task.assignee.work_type,
        })
    return out


def hazard_reports(task: Task, record: CheckRecord, *, unit_name: str | None = None) -> list[dict]:
    """The values of a hidden-hazard report (riskmap.hazards.workflow REPORT_FIELDS) for each failed item: the same
    facts as `hazard_drafts`, in the hazards room's own names (its control index counts from 0, a task's from 1; an
    event without an id is named by its position "#n", as the task's key does)."""
    parts = task.key.split("|")
    event_ref = task.event_code or (parts[1] if len(parts) == 3 and parts[1].startswith("#") else None)
    out = []
    for draft in hazard_drafts(task, record, unit_name=unit_name):
        place = draft["place"]
        values = {"name": f"{place}：{draft['item']}"[:200], "description": draft["description"],
                  "source": draft["source"], "category": task.assignee.work_type, "unit_code": task.unit_code,
                  "check_record_id": str(record.id), "fid": task.fid}
        if event_ref is not None:
            values["risk_event_code"] = event_ref
            if task.control_index is not None:
                values["control_index"] = task.control_index - 1
        out.append(values)
    return out


def clean_note(value: Any) -> str | None:
    """A note as stored: stripped, None when empty; RecordError when too long or not text."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NOTE or "\x00" in value:
        raise RecordError(f"说明应为最多 {MAX_NOTE} 字的文字 / a note is a text of at most {MAX_NOTE} characters")
    return value.strip() or None


def clean_device(value: Any) -> str | None:
    """The device (mobileMe) as stored."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DEVICE or any(ord(c) < 32 for c in value):
        raise RecordError(f"设备标识应为最多 {MAX_DEVICE} 字的文字 / a device is a text of at most {MAX_DEVICE} "
                          "characters")
    return value.strip() or None


def _item_text(task: Task, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= len(task.items):
        return task.items[value - 1]
    if isinstance(value, str) and value.strip() in task.items:
        return value.strip()
    raise RecordError(f"任务没有检查项 {str(value)[:40]!r} / the task has no such item")
