"""Editing one item at a time: layout features and units, with optimistic concurrency and an audit row.

Why edit tags: two editors must never overwrite each other. Every stored row has a primary key that changes with
each write of the item and never repeats, so it is the item's version ("edit tag"); a write names the tag it was
made against (If-Match) and is refused when the item moved on. The check and the write happen in one writing
transaction of the enterprise (`Store.transaction`: SQLite BEGIN IMMEDIATE, PostgreSQL the data-version row lock
plus SELECT ... FOR UPDATE on the item), so of many writers holding the same tag exactly one wins. The same
transaction bumps the data version, refreshes the map snapshot, writes the audit row (`changes`) and raises the
re-assessment flags the change causes (riskmap.store.flags): a change is there completely or not at all.

The Store (riskmap.store.repository) is the public face; these functions take it as their first argument.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from riskmap.domain import AssessmentUnit
from riskmap.errors import AlreadyExistsError, EditConflict, InputError, NotFoundError, PreconditionRequired
from riskmap.store import binding, codec, flags
from riskmap.store.audit import MAX_DETAIL_ITEMS, bbox_of, record_change
from riskmap.store.drawings import drawing_from_row, drawing_row, of_drawing
from riskmap.store.layouts import feature_rows, layout_number, read_features
from riskmap.store.ledgers import (
    continued_version,
    current_unit_row,
    insert_unit,
    new_ledger_version,
    unit_of,
    version_row,
)
from riskmap.store.rows import (
    Writing,
    checked_roles,
    clean_text,
    enterprise_id,
    insert_rows,
    required_text,
    same_geometry,
    valid,
)
from riskmap.store.schema import (
    LayoutFeatureRow,
    LayoutVersionRow,
    LedgerVersionRow,
    RiskEventRow,
    UnitRow,
)
from riskmap.store.types import SRID

if TYPE_CHECKING:
    from riskmap.store.repository import Store

# Every edit works on one drawing (None: the site plan); `on` is the SQL condition of that drawing's rows.
SITE_ROWS = of_drawing(LayoutFeatureRow, None)

ANY = "*"
MAX_FID = 200
MAX_TEXT = 2000
CHUNK = 500                  # ids per IN (...) list
LAYOUT_ACTIONS = ("edit", "restore", "revise", "split", "merge")
FEATURE_FIELDS = ("geometry", "name", "role", "layer", "properties")
_TAG = re.compile(r'^\s*"?(\d{1,18})(?:\.[^"]*)?"?\s*$')


# ---------------------------------------------------------------------------------------------- ETags


def etag(edit_tag: int, representation: bytes | str) -> str:
    """The HTTP ETag of an item: its edit tag and a short digest of what was sent (strong, quoted)."""
    data = representation.encode("utf-8") if isinstance(representation, str) else bytes(representation)
    return f'"{int(edit_tag)}.{hashlib.sha256(data).hexdigest()[:8]}"'


def edit_tag_of(if_match: str | None) -> list[int]:
    """The edit tags named by an If-Match header ("12.ab34cd56", "12", several comma-separated); [] when none
    parse. Weak tags (W/...) never match, as RFC 9110 wants for If-Match."""
    if not if_match:
        return []
    out = []
    for part in str(if_match).split(","):
        m = _TAG.match(part)
        if m:
            out.append(int(m.group(1)))
    return out


def _tags(if_match: Any) -> list[int] | str:
    """If-Match as given by a caller: None (428), "*", a header text, an int or a list of ints."""
    if if_match is None:
        raise PreconditionRequired()
    if isinstance(if_match, str):
        return ANY if if_match.strip() == ANY else edit_tag_of(if_match)
    if isinstance(if_match, bool):
        raise InputError(f"If-Match 无效：{if_match!r} / invalid If-Match {if_match!r}")
    if isinstance(if_match, int):
        return [if_match]
    out: list[int] = []
    for tag in if_match:
        if tag == ANY:
            return ANY
        try:
            out.append(int(tag))
        except (TypeError, ValueError):
            continue   # an unparsable tag matches nothing
    return out


# ---------------------------------------------------------------------------------------------- results


@dataclass
class EditableFeature:
    """A stored layout feature with its edit tag (the row id)."""

    fid: str
    edit_tag: int
    name: str | None
    role: str | None
    layer: str | None
    properties: dict
    geometry: Any                   # shapely, EPSG:4326
    valid_from: int
    valid_to: int | None

    def geojson(self) -> dict:
        """A GeoJSON Feature (lon/lat): id = fid, properties = name, role, layer and the feature's own."""
        props = dict(self.properties or {})
        props.update(name=self.name, role=self.role, layer=self.layer)
        return {"type": "Feature", "id": self.fid,
                "geometry": mapping(self.geometry) if self.geometry is not None else None, "properties": props}


@dataclass
class FeatureChange:
    """One part of a layout change. For "replace" a field left None keeps its current value."""

    op: str                                  # "create" | "replace" | "delete"
    fid: str | None = None
    role: str | None = None
    geometry: Any = None
    feature_name: str | None = None
    layer: str | None = None
    properties: dict | None = None


@dataclass
class EditResult:
    """What a write did: the items touched, their new edit tags (None for a delete), the versions it made."""

    fids: list[str]
    edit_tags: list[int | None]
    layout_number: int | None
    data_version: int
    change_id: int
    ledger_number: int | None = None
    flags_raised: list[dict] = field(default_factory=list)

    @property
    def fid(self) -> str | None:
        """The id of the first feature the edit touched (the one a single-feature edit is about), or None."""
        return self.fids[0] if self.fids else None

    @property
    def edit_tag(self) -> int | None:
        """The edit tag of that first feature: what a client sends back as If-Match for its next edit."""
        return self.edit_tags[0] if self.edit_tags else None


@dataclass
class Touched:
    """A feature before and after a change (None when it did not exist), for the audit detail and the flags."""

    op: str
    fid: str
    old: EditableFeature | None
    new: EditableFeature | None


# ---------------------------------------------------------------------------------------------- audit


# ---------------------------------------------------------------------------------------------- layout reads


def _editable(row: LayoutFeatureRow | None) -> EditableFeature | None:
    if row is None:
        return None
    return EditableFeature(fid=row.fid, edit_tag=row.id, name=row.name, role=row.role, layer=row.layer,
                           properties=dict(row.properties or {}), geometry=row.geometry,
                           valid_from=row.valid_from, valid_to=row.valid_to)


def feature(store: Store, name: str, fid: str, at_layout: int | None = None,
            drawing: str | None = None) -> EditableFeature | None:
    """The current feature `fid` of a drawing (None: the site plan), or as it was in layout version `at_layout`;
    None when there is none."""
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False, missing_ok=True)
        if ent_id is None:
            return None
        number = layout_number(s, ent_id, at_layout)
        on = _on(drawing_row(s, ent_id, drawing))
        row = s.execute(select(LayoutFeatureRow).where(
            LayoutFeatureRow.enterprise_id == ent_id, on, valid(LayoutFeatureRow, number),
            LayoutFeatureRow.fid == str(fid)).order_by(LayoutFeatureRow.id.desc()).limit(1)).scalars().first()
        return _editable(row)


def _on(row) -> Any:
    """The condition of one drawing's feature rows (row None: the site plan)."""
    return of_drawing(LayoutFeatureRow, None if row is None else row.id)


def _last_row(s: Session, ent_id: int, fid: str, on=SITE_ROWS) -> LayoutFeatureRow | None:
    return s.execute(select(LayoutFeatureRow).where(LayoutFeatureRow.enterprise_id == ent_id, on,
                                                    LayoutFeatureRow.fid == fid)
                     .order_by(LayoutFeatureRow.id.desc()).limit(1)).scalars().first()


def _current_feature_item(s: Session, ent_id: int, fid: str, on=SITE_ROWS) -> dict | None:
    """The item as it is now, for EditConflict.current (feature None when it was deleted)."""
    row = _last_row(s, ent_id, fid, on)
    if row is None:
        return None
    live = row.valid_to is None
    version = version_row(s, LayoutVersionRow, ent_id, row.valid_from if live else row.valid_to)
    return {"id": fid, "edit_tag": row.id if live else None,
            "feature": _editable(row).geojson() if live else None,
            "changed_at": version.created_at.isoformat() if version else None,
            "changed_by": version.author if version else None, "reason": version.note if version else None}


def _check_tag(tags: list[int] | str, row_id: int | None, current: Any) -> None:
    """Refuse (412 with the current item) unless the If-Match tags name the current row."""
    if row_id is not None and (tags == ANY or row_id in tags):
        return
    item = current() if callable(current) else current
    raise EditConflict(current=item)


# ---------------------------------------------------------------------------------------------- validation


def _fid_text(fid: Any) -> str:
    return required_text(fid, MAX_FID, "要素编号", "feature id")


def _geometry(geom: Any) -> Any:
    """A shapely geometry (a GeoJSON dict is read); None or empty is refused (the API checks the rest)."""
    if isinstance(geom, dict):
        try:
            geom = shape(geom)
        except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.ShapelyError) as exc:
            raise InputError(f"几何无法读取：{exc} / cannot read the geometry: {exc}") from None
    if geom is None or not isinstance(geom, shapely.Geometry) or geom.is_empty:
        raise InputError("要素几何为空 / the feature geometry is missing or empty")
    return geom


def _role(role: Any) -> str:
    if role is None:
        raise InputError("要素需要角色（role）/ the feature needs a role")
    return checked_roles([str(role)])[0]


def _text(value: Any, what_zh: str, what: str) -> str | None:
    text = clean_text(value)
    if text is not None and len(text) > MAX_TEXT:
        raise InputError(f"{what_zh}过长（最多 {MAX_TEXT} 字）/ the {what} is longer than {MAX_TEXT}")
    return text


def _properties(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"properties 应为对象，而不是 {type(value).__name__} / properties must be an object, "
                         f"not {type(value).__name__}")
    return dict(value)


def _merge_patch(target: dict, patch: dict) -> dict:
    """RFC 7396 merge patch of properties: null removes a key, objects merge, the rest replaces."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_patch(out[key], value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------------------------- layout writes


@dataclass
class _Op:
    """A layout change prepared before the lock: `values` are the fields to write (validated)."""

    op: str                 # create | update | delete | restore
    fid: str | None
    values: dict = field(default_factory=dict)
    merge_properties: bool = False
    tags: list[int] | str | None = None     # None: no check (a batch applied without If-Match)
    at: datetime | None = None


def create_feature(store: Store, name: str, fid: str | None, role: str, geometry: Any, feature_name: str | None = None,
                   layer: str | None = None, properties: dict | None = None, author: str | None = None,
                   reason: str | None = None, drawing: str | None = None) -> EditResult:
    """Add one feature to the layout as a new version; with no ``fid`` one is made ("e<version>-<n>"). Bad input raises
    InputError.
    """
    op = _Op("create", None if fid is None else _fid_text(fid),
             {"role": _role(role), "geometry": _geometry(geometry), "name": _text(feature_name, "名称", "name"),
              "layer": _text(layer, "图层", "layer"), "properties": _properties(properties)})
    return _write_layout(store, name, [op], "edit", "feature.create", author, reason, drawing)


def replace_feature(store: Store, name: str, fid: str, if_match: Any, role: str, geometry: Any,
                    feature_name: str | None = None, layer: str | None = None, properties: dict | None = None,
                    author: str | None = None, reason: str | None = None, drawing: str | None = None) -> EditResult:
    """Replace a feature whole as a new layout version; ``if_match`` (its current edit tag, or "*") is required, and a
    stale tag raises EditConflict rather than overwrite someone else's edit.
    """
    tags = _tags(if_match)
    op = _Op("update", _fid_text(fid),
             {"role": _role(role), "geometry": _geometry(geometry), "name": _text(feature_name, "名称", "name"),
              "layer": _text(layer, "图层", "layer"), "properties": _properties(properties)}, tags=tags)
    return _write_layout(store, name, [op], "edit", "feature.replace", author, reason, drawing)


def patch_feature(store: Store, name: str, fid: str, if_match: Any, changes: dict, author: str | None = None,
                  reason: str | None = None, drawing: str | None = None) -> EditResult:
    """Change some fields of a feature (only FEATURE_FIELDS) as a new layout version, guarded by ``if_match`` like
    replace_feature.
    """
    tags = _tags(if_match)
    if not isinstance(changes, dict):
        raise InputError("修改内容应为对象 / the changes must be an object")
    unknown = sorted(set(changes) - set(FEATURE_FIELDS))
    if unknown:
        raise InputError(f"不能修改的字段：{', '.join(unknown)}；可改：{', '.join(FEATURE_FIELDS)} / fields that "
                         f"cannot be changed: {unknown}; allowed: {', '.join(FEATURE_FIELDS)}")
    if not changes:
        raise InputError("没有要修改的内容 / nothing to change")
    values: dict = {}
    if "geometry" in changes:
        values["geometry"] = _geometry(changes["geometry"])
    if "role" in changes:
        values["role"] = _role(changes["role"])
    if "name" in changes:
        values["name"] = _text(changes["name"], "名称", "name")
    if "layer" in changes:
        values["layer"] = _text(changes["layer"], "图层", "layer")
    if "properties" in changes:
        values["properties"] = _properties(changes["properties"])
    op = _Op("update", _fid_text(fid), values, merge_properties=True, tags=tags)
    return _write_layout(store, name, [op], "edit", "feature.patch", author, reason, drawing)


def delete_feature(store: Store, name: str, fid: str, if_match: Any, author: str | None = None,
                   reason: str | None = None, drawing: str | None = None) -> EditResult:
    """Remove a feature as a new layout version, guarded by ``if_match``; earlier versions still hold it."""
    tags = _tags(if_match)
    return _write_layout(store, name, [_Op("delete", _fid_text(fid), tags=tags)], "edit", "feature.delete",
                         author, reason, drawing)


def restore_feature(store: Store, name: str, fid: str, author: str | None = None, reason: str | None = None,
                    at: datetime | None = None, drawing: str | None = None) -> EditResult:
    """Bring back a deleted feature as a new version: its last stored state, or its state at the moment `at`
    (an aware datetime; a naive one is read as UTC)."""
    if at is not None:
        if not isinstance(at, datetime):
            raise InputError(f"时刻应为日期时间，而不是 {at!r} / the moment must be a datetime, not {at!r}")
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
    return _write_layout(store, name, [_Op("restore", _fid_text(fid), at=at)], "restore", "feature.restore",
                         author, reason, drawing)


def apply_layout_changes(store: Store, name: str, changes: Sequence[FeatureChange], action: str,
                         if_match: dict[str, Any] | None, author: str | None = None,
                         reason: str | None = None, drawing: str | None = None) -> EditResult:
    """Several creates/replaces/deletes as one new layout version (split, merge, a confirmed revision).

    With `if_match` (fid -> tags) every replaced or deleted feature must be named in it and current; without
    it (None) the caller has checked the base version itself (a revision made against layout version n)."""
    if action not in LAYOUT_ACTIONS:
        raise InputError(f"未知的布局操作 “{action}”，可选：{', '.join(LAYOUT_ACTIONS)} / unknown layout action "
                         f"{action!r}; allowed: {', '.join(LAYOUT_ACTIONS)}")
    changes = list(changes)
    if not changes:
        raise InputError("没有要修改的要素 / no feature changes given")
    if if_match is not None and not isinstance(if_match, dict):
        raise InputError("if_match 应为 {要素编号: 版本} / if_match must map feature ids to edit tags")
    ops, seen = [], set()
    for ch in changes:
        if not isinstance(ch, FeatureChange):
            raise InputError(f"无效的要素修改：{ch!r} / not a FeatureChange: {ch!r}")
        fid = None if ch.fid is None and ch.op == "create" else _fid_text(ch.fid)
        if fid is not None:
            if fid in seen:
                raise InputError(f"要素 {fid} 在一次修改中出现多次 / feature {fid!r} appears twice in one change")
            seen.add(fid)
        tags = None
        if if_match is not None and ch.op in ("replace", "delete"):
            if fid not in if_match:
                raise PreconditionRequired(f"要素 {fid} 的修改需要 If-Match（先读取要素获得 ETag）/ If-Match is "
                                           f"required for feature {fid!r}")
            tags = _tags(if_match[fid])
        if ch.op == "create":
            ops.append(_Op("create", fid, {
                "role": _role(ch.role), "geometry": _geometry(ch.geometry),
                "name": _text(ch.feature_name, "名称", "name"), "layer": _text(ch.layer, "图层", "layer"),
                "properties": _properties(ch.properties)}))
        elif ch.op == "replace":
            values: dict = {}
            if ch.geometry is not None:
                values["geometry"] = _geometry(ch.geometry)
            if ch.role is not None:
                values["role"] = _role(ch.role)
            if ch.feature_name is not None:
                values["name"] = _text(ch.feature_name, "名称", "name")
            if ch.layer is not None:
                values["layer"] = _text(ch.layer, "图层", "layer")
            if ch.properties is not None:
                values["properties"] = _properties(ch.properties)
            ops.append(_Op("update", fid, values, tags=tags))
        elif ch.op == "delete":
            ops.append(_Op("delete", fid, tags=tags))
        else:
            raise InputError(f"未知的要素操作 “{ch.op}”（create/replace/delete）/ unknown feature op {ch.op!r}")
    audit = {"revise": "layout.revise", "split": "feature.split", "merge": "feature.merge",
             "restore": "feature.restore"}.get(action, "layout.edit")
    return _write_layout(store, name, ops, action, audit, author, reason, drawing)


def _write_layout(store: Store, name: str, ops: list[_Op], version_action: str, audit_action: str,
                  author: str | None, reason: str | None, drawing: str | None = None) -> EditResult:

    reason = _text(reason, "理由", "reason")
    with store.transaction(name, create=False) as w:
        w.track()
        s = w.session
        target = _Target.of(s, w.enterprise_id, drawing)
        version = continued_version(w, LayoutVersionRow,
                                    {"source_name": None, "source_format": None, "crs": f"EPSG:{SRID}",
                                     "georeferenced": True, "feature_count": 0},
                                    drawing_id=target.drawing_id,
                                    action=version_action, report={"action": audit_action}, note=reason,
                                    author=clean_text(author))
        touched = _apply_ops(store, w, version, ops, target)
        if target.site:
            w.touch(fids=[t.fid for t in touched])
            binding.rebind_after_layout(w, read_features(s, w.enterprise_name), author=author)
        else:          # the site plan's map is not made of this drawing: bind references waiting for its features
            binding.bind_drawing(w, target.drawing, read_features(s, w.enterprise_name, drawing=target.drawing.key),
                                 author=author)
        if touched and audit_action in ("feature.patch", "feature.replace", "layout.edit") and \
                all(_changed_fields(t) == ["name"] for t in touched):
            audit_action = "feature.rename"           # a rename moves nothing and raises no flag
        version.feature_count += sum(1 for t in touched if t.old is None) - sum(1 for t in touched if t.new is None)
        counts = Counter(t.op for t in touched)
        version.report = {"action": audit_action, "counts": dict(counts)}
        items = [{"fid": t.fid, "op": t.op, "old_edit_tag": t.old.edit_tag if t.old else None,
                  "new_edit_tag": t.new.edit_tag if t.new else None,
                  "old_bbox": bbox_of(t.old.geometry) if t.old else None,
                  "new_bbox": bbox_of(t.new.geometry) if t.new else None, "fields": _changed_fields(t)}
                 for t in touched[:MAX_DETAIL_ITEMS]]
        detail = {"items": items, "counts": dict(counts), "layout_action": version_action}
        if not target.site:
            detail["drawing"] = target.drawing.key
        if len(touched) > MAX_DETAIL_ITEMS:
            detail["truncated"] = len(touched) - MAX_DETAIL_ITEMS
        collection = "regions" if touched and all(
            (t.new or t.old).role == "region" for t in touched) else "layout"
        change_id = record_change(w, audit_action, collection=collection, items=[t.fid for t in touched],
                                  author=author, reason=reason, detail=detail)
        # Re-assessment flags follow the site plan's geometry (units are located and regions met there); a unit's
        # room on a floor plan or its symbol on a schematic drawing moves no risk.
        raised = flags.raise_for_layout(w, touched) if target.site else []
    return EditResult(fids=[t.fid for t in touched], edit_tags=[t.new.edit_tag if t.new else None for t in touched],
                      layout_number=version.number, data_version=w.data_version, change_id=change_id,
                      flags_raised=raised)


@dataclass(frozen=True)
class _Target:
    """The drawing an edit works on: its row id (None: the site plan), its record and its rows' condition."""

    drawing_id: int | None
    drawing: Any
    on: Any

    @property
    def site(self) -> bool:
        return self.drawing_id is None

    @classmethod
    def of(cls, s: Session, ent_id: int, key: str | None) -> _Target:
        row = drawing_row(s, ent_id, key)      # NotFoundError naming the drawings there are
        return cls(None if row is None else row.id, None if row is None else drawing_from_row(row), _on(row))


def _changed_fields(t: Touched) -> list[str]:
    if t.old is None or t.new is None:
        return []
    out = [f for f in ("name", "role", "layer", "properties") if getattr(t.old, f) != getattr(t.new, f)]
    if not shapely.equals_exact(t.old.geometry, t.new.geometry, tolerance=0):
        out.insert(0, "geometry")
    return out


def _apply_ops(store: Store, w, version: LayoutVersionRow, ops: list[_Op], target: _Target) -> list[Touched]:
    """Check every op against the current rows (read and locked in one go), then retire and insert in batches:
    a revision of thousands of features costs a few statements, not thousands."""
    s, ent_id, number = w.session, w.enterprise_id, version.number
    on = target.on
    current = _current_rows(s, ent_id, [op.fid for op in ops if op.fid is not None], on)
    taken = set(current) | {op.fid for op in ops if op.fid is not None}
    taken |= set(s.execute(select(LayoutFeatureRow.fid).where(
        LayoutFeatureRow.enterprise_id == ent_id, on, LayoutFeatureRow.valid_to.is_(None),
        LayoutFeatureRow.fid.like(f"e{number}-%"))).scalars())
    touched: list[Touched] = []
    retire: list[int] = []
    writes: list[tuple[int, str, dict]] = []      # (position in touched, fid, values)
    k = 0
    for op in ops:
        if op.op == "create":
            fid = op.fid
            if fid is None:
                k += 1
                while f"e{number}-{k}" in taken:
                    k += 1
                fid = f"e{number}-{k}"
                taken.add(fid)
            elif fid in current:
                raise AlreadyExistsError(f"要素编号 {fid} 已被使用 / feature id {fid!r} is already in use")
            writes.append((len(touched), fid, op.values))
            touched.append(Touched("create", fid, None, None))
            continue
        row = current.get(op.fid)
        if op.op == "restore":
            if row is not None:
                raise AlreadyExistsError(f"要素 {op.fid} 未被删除，无需恢复 / feature {op.fid!r} exists; nothing "
                                         f"to restore")
            old = _restorable(s, ent_id, op.fid, op.at, on)
            writes.append((len(touched), op.fid, {"geometry": old.geometry, "name": old.name, "role": old.role,
                                                  "layer": old.layer, "properties": dict(old.properties or {})}))
            touched.append(Touched("restore", op.fid, None, None))
            continue
        if row is None:
            if op.tags is not None and _last_row(s, ent_id, op.fid, on) is not None:
                raise EditConflict(current=_current_feature_item(s, ent_id, op.fid, on))   # deleted meanwhile
            raise NotFoundError(f"没有编号为 “{op.fid}” 的要素 / no layout feature {op.fid!r}")
        if op.tags is not None:
            _check_tag(op.tags, row.id, lambda fid=op.fid: _current_feature_item(s, ent_id, fid, on))
        old = _editable(row)
        retire.append(row.id)
        if op.op == "delete":
            touched.append(Touched("delete", op.fid, old, None))
            continue
        values = {"geometry": old.geometry, "name": old.name, "role": old.role, "layer": old.layer,
                  "properties": old.properties}
        for key, value in op.values.items():
            values[key] = _merge_patch(old.properties, value) if key == "properties" and op.merge_properties \
                else value
        writes.append((len(touched), op.fid, values))
        touched.append(Touched("replace", op.fid, old, None))
    for start in range(0, len(retire), CHUNK):
        s.execute(update(LayoutFeatureRow).where(LayoutFeatureRow.id.in_(retire[start:start + CHUNK]))
                  .values(valid_to=number))
    for (i, _fid, _values), new in zip(writes, _insert_features(store, w, version, writes, target.drawing_id),
                                   strict=True):
        touched[i].new = new
    return touched


def _current_rows(s: Session, ent_id: int, fids: list[str], on=SITE_ROWS) -> dict[str, LayoutFeatureRow]:
    """The current rows of some fids, locked for this transaction (PostgreSQL: FOR UPDATE)."""
    out: dict[str, LayoutFeatureRow] = {}
    unique = list(dict.fromkeys(fids))
    for start in range(0, len(unique), CHUNK):
        q = (select(LayoutFeatureRow).where(LayoutFeatureRow.enterprise_id == ent_id, on,
                                            LayoutFeatureRow.valid_to.is_(None),
                                            LayoutFeatureRow.fid.in_(unique[start:start + CHUNK]))
             .order_by(LayoutFeatureRow.id).with_for_update())
        for row in s.execute(q).scalars():
            out.setdefault(row.fid, row)
    return out


def _restorable(s: Session, ent_id: int, fid: str, at: datetime | None, on=SITE_ROWS) -> LayoutFeatureRow:
    """The last stored state of a deleted feature, or its state at the moment `at`."""
    q = select(LayoutFeatureRow).where(LayoutFeatureRow.enterprise_id == ent_id, on, LayoutFeatureRow.fid == fid)
    if at is not None:
        number = s.execute(select(func.max(LayoutVersionRow.number)).where(
            LayoutVersionRow.enterprise_id == ent_id, LayoutVersionRow.created_at <= at)).scalar_one()
        if number is None:
            raise InputError(f"该时刻还没有布局 / there was no layout yet at {at.isoformat()}")
        q = q.where(valid(LayoutFeatureRow, number))
    row = s.execute(q.order_by(LayoutFeatureRow.id.desc()).limit(1)).scalars().first()
    if row is None:
        when = f"（{at.isoformat()}）" if at is not None else ""
        raise NotFoundError(f"没有可恢复的要素 {fid}{when} / no stored feature {fid!r} to restore"
                            + (f" at {at.isoformat()}" if at is not None else ""))
    return row


def _insert_features(store: Store, w, version: LayoutVersionRow, writes: list[tuple[int, str, dict]],
                     drawing_id: int | None = None) -> list[EditableFeature]:
    """Insert new rows (valid from this version) for (_, fid, values) in one batch; returns them with their tags."""
    if not writes:
        return []
    gdf = gpd.GeoDataFrame({"fid": [f for _, f, _ in writes], "name": [v.get("name") for _, _, v in writes],
                            "role": [v.get("role") for _, _, v in writes],
                            "layer": [v.get("layer") for _, _, v in writes],
                            "properties": [v.get("properties") or {} for _, _, v in writes]},
                           geometry=[v["geometry"] for _, _, v in writes], crs=f"EPSG:{SRID}")
    rows = feature_rows(gdf, w.session.get_bind().dialect.name)
    for row in rows:
        row.update(enterprise_id=w.enterprise_id, layout_version_id=version.id, valid_from=version.number,
                   valid_to=None, drawing_id=drawing_id)
    ids = insert_rows(w.session, LayoutFeatureRow, rows, returning=True)
    return [EditableFeature(fid=fid, edit_tag=new_id, name=values.get("name"), role=values.get("role"),
                            layer=values.get("layer"), properties=dict(values.get("properties") or {}),
                            geometry=values["geometry"], valid_from=version.number, valid_to=None)
            for (_, fid, values), new_id in zip(writes, ids, strict=True)]


# ---------------------------------------------------------------------------------------------- units


def unit_record(store: Store, name: str, code: str) -> tuple[AssessmentUnit, int] | None:
    """The current unit `code` with its events, and its edit tag (row id); None when there is none."""
    with store.session() as s:
        ent_id = enterprise_id(s, name, create=False, missing_ok=True)
        if ent_id is None:
            return None
        row = current_unit_row(s, ent_id, str(code), lock=False)
        if row is None:
            return None
        return unit_of(s, row), row.id


def unit_item(s: Session, ent_id: int, code: str) -> dict | None:
    """The unit as it is now, for EditConflict.current (feature None when it was deleted)."""
    row = s.execute(select(UnitRow).where(UnitRow.enterprise_id == ent_id, UnitRow.code == code)
                    .order_by(UnitRow.id.desc()).limit(1)).scalars().first()
    if row is None:
        return None
    live = row.valid_to is None
    version = version_row(s, LedgerVersionRow, ent_id, row.valid_from if live else row.valid_to)
    feature_json = None
    if live:
        unit = unit_of(s, row)
        level = unit.level()
        feature_json = {"type": "Feature", "id": unit.id,
                        "geometry": mapping(unit.geometry) if unit.geometry is not None else None,
                        "properties": {"name": unit.name, "kind": unit.kind.value, "parent_id": unit.parent_id,
                                       "feature_ref": unit.feature_ref, "level": level.value if level else None,
                                       "last_assessed": unit.last_assessed.isoformat() if unit.last_assessed
                                       else None}}
    return {"id": code, "edit_tag": row.id if live else None, "feature": feature_json,
            "changed_at": version.created_at.isoformat() if version else None,
            "changed_by": version.author if version else None, "reason": version.note if version else None}


def _unit_to_change(w: Writing, code: str, tags) -> UnitRow:
    """The current row of the unit a change names, its edit tag checked when the change carries If-Match tags
    (None: no check). A unit deleted meanwhile is a conflict (412 with its last state) for a tagged change, and
    a unit that never was is a NotFoundError."""
    s = w.session
    current = current_unit_row(s, w.enterprise_id, code)
    if current is None:
        if tags is not None and unit_item(s, w.enterprise_id, code) is not None:
            raise EditConflict(current=unit_item(s, w.enterprise_id, code))
        raise NotFoundError(f"没有编号为 “{code}” 的评估单元 / no assessment unit {code!r}")
    if tags is not None:
        _check_tag(tags, current.id, lambda: unit_item(s, w.enterprise_id, code))
    return current


def edit_unit(store: Store, name: str, unit_id: str, change, author: str | None = None, reason: str | None = None,
              if_match: Any = None) -> tuple[AssessmentUnit, int, int]:
    """Change one unit as a new ledger version (action "edit"); see Store.edit_unit."""

    tags = None if if_match is None else _tags(if_match)
    code = str(unit_id)
    with store.transaction(name, create=False) as w:
        w.track()
        s = w.session
        current = _unit_to_change(w, code, tags)
        before = unit_of(s, current)
        unit = unit_of(s, current)
        change(unit)
        if str(unit.id) != code:
            raise InputError("不能修改单元编号 / the unit id cannot be changed")
        if unit.parent_id != before.parent_id:
            _check_parent(s, w.enterprise_id, code, unit.parent_id)
        version = new_ledger_version(w, "edit", author, reason, 0, len(unit.events) - len(before.events),
                                      f"编辑单元 {unit_id}")
        s.execute(update(UnitRow).where(UnitRow.id == current.id).values(valid_to=version.number))
        new_id = insert_unit(w, version, unit, current.position)
        fields = _unit_fields_changed(before, unit)
        detail = {"items": [{"id": code, "op": "edit", "old_edit_tag": current.id, "new_edit_tag": new_id,
                             "old_bbox": bbox_of(before.geometry), "new_bbox": bbox_of(unit.geometry),
                             "fields": fields}]}
        record_change(w, "unit.edit", collection="units", items=[code], author=author, reason=reason,
                      detail=detail)
        w.touch(units=[code])
        flags.after_unit_edit(w, before, unit, fields)
        w.edit_tag = new_id
    return unit, version.number, w.data_version


def _check_parent(s: Session, ent_id: int, code: str, parent: str | None) -> None:
    """A new parent must exist and must not be the unit itself or one of its descendants."""
    if parent is None:
        return
    parents = dict(s.execute(select(UnitRow.code, UnitRow.parent_code).where(
        UnitRow.enterprise_id == ent_id, UnitRow.valid_to.is_(None))).all())
    if str(parent) not in parents:
        raise InputError(f"上级单元 {parent} 不存在 / parent unit {parent!r} does not exist")
    cur, seen = str(parent), set()
    while cur is not None and cur not in seen:
        if cur == code:
            raise InputError(f"单元 {code} 的上级关系会形成循环 / parent {parent!r} would make a cycle at {code!r}")
        seen.add(cur)
        cur = parents.get(cur)


def _unit_fields_changed(before: AssessmentUnit, after: AssessmentUnit) -> list[str]:
    a, b = codec.unit_row(before, 0), codec.unit_row(after, 0)
    out = [k for k in a if k not in ("position", "geometry") and a[k] != b[k]]
    if not same_geometry(before.geometry, after.geometry):
        out.insert(0, "geometry")
    if [codec.event_row(e, i) for i, e in enumerate(before.events)] != \
            [codec.event_row(e, i) for i, e in enumerate(after.events)]:
        out.append("events")
    return out


def create_unit(store: Store, name: str, unit: AssessmentUnit, author: str | None = None,
                reason: str | None = None) -> EditResult:
    """Add one unit (with its events) to the current tree as a new ledger version (action "create")."""
    if not isinstance(unit, AssessmentUnit):
        raise InputError("需要一个评估单元 / an assessment unit is required")
    code = str(unit.id).strip() if unit.id is not None else ""
    if not code or len(code) > MAX_FID:
        raise InputError(f"单元编号不能为空且不超过 {MAX_FID} 字 / the unit id must be 1..{MAX_FID} characters")
    if unit.geometry is not None and (not isinstance(unit.geometry, shapely.Geometry) or unit.geometry.is_empty):
        raise InputError("单元几何为空 / the unit geometry is empty")
    with store.transaction(name, create=False) as w:
        w.track()
        s = w.session
        if current_unit_row(s, w.enterprise_id, code, lock=False) is not None:
            raise AlreadyExistsError(f"单元编号 {code} 已被使用 / unit id {code!r} is already in use")
        if unit.parent_id is not None:
            parent = current_unit_row(s, w.enterprise_id, str(unit.parent_id), lock=False)
            if parent is None:
                raise InputError(f"上级单元 {unit.parent_id} 不存在 / parent unit {unit.parent_id!r} does not exist")
        version = new_ledger_version(w, "create", author, reason, 1, len(unit.events), f"新增单元 {code}")
        position = (s.execute(select(func.max(UnitRow.position)).where(
            UnitRow.enterprise_id == w.enterprise_id, UnitRow.valid_to.is_(None))).scalar_one() or 0) + 1
        new_id = insert_unit(w, version, unit, position)
        w.touch(units=[code])
        detail = {"items": [{"id": code, "op": "create", "new_edit_tag": new_id, "new_bbox": bbox_of(unit.geometry),
                             "fields": []}]}
        change_id = record_change(w, "unit.create", collection="units", items=[code], author=author,
                                  reason=reason, detail=detail)
    return EditResult(fids=[code], edit_tags=[new_id], layout_number=None, data_version=w.data_version,
                      change_id=change_id, ledger_number=version.number)


def delete_unit(store: Store, name: str, code: str, if_match: Any, author: str | None = None,
                reason: str | None = None) -> EditResult:
    """Retire one unit (a new ledger version, action "delete"); refused while it has current children."""
    tags = _tags(if_match)
    code = str(code)
    with store.transaction(name, create=False) as w:
        w.track()
        s = w.session
        current = _unit_to_change(w, code, tags)
        children = s.execute(select(UnitRow.code).where(UnitRow.enterprise_id == w.enterprise_id,
                                                        UnitRow.valid_to.is_(None), UnitRow.parent_code == code)
                             .limit(5)).scalars().all()
        if children:
            raise InputError(f"单元 {code} 还有下级单元（{', '.join(children)}），请先删除或移走它们 / unit {code!r} "
                             f"still has child units ({', '.join(children)}); delete or move them first")
        events = s.execute(select(func.count()).select_from(RiskEventRow)
                           .where(RiskEventRow.unit_id == current.id)).scalar_one()
        old_bbox = bbox_of(current.geometry)
        version = new_ledger_version(w, "delete", author, reason, -1, -int(events), f"删除单元 {code}")
        s.execute(update(UnitRow).where(UnitRow.id == current.id).values(valid_to=version.number))
        w.touch(units=[code])
        detail = {"items": [{"id": code, "op": "delete", "old_edit_tag": current.id, "old_bbox": old_bbox,
                             "fields": []}]}
        change_id = record_change(w, "unit.delete", collection="units", items=[code], author=author,
                                  reason=reason, detail=detail)
    return EditResult(fids=[code], edit_tags=[None], layout_number=None, data_version=w.data_version,
                      change_id=change_id, ledger_number=version.number)
