"""Work that the CLI, the demo and the HTTP service share: a drawing or a ledger file into the store.

Below every interface (it imports neither riskmap.cli nor riskmap.api): a command shows progress and prints the
summary, the demo loads its plant, the service answers; the work and its rules are here once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskmap.attach import FeatureIndex, bind_placements, resolve_unit_geometries
from riskmap.criteria import assess_units
from riskmap.drawings import SITE_PLAN, Drawing, not_imported_warning
from riskmap.errors import NotFoundError
from riskmap.geo.importer import import_layout_file
from riskmap.plant import resolve_enterprise

if TYPE_CHECKING:
    from riskmap.ledger.model import Ledger
    from riskmap.store.repository import Store

# The steps of a drawing's import, as a progress display names them.
IMPORT_STEPS = ("read", "georeference", "clean", "transform", "store")
IMPORT_STEP_ZH = {"read": "读取", "georeference": "地理配准", "clean": "几何清理", "transform": "坐标转换",
                  "store": "写入数据库"}
ENTERPRISE_CONTACTS = ("short_name", "supervision_phone", "report_phone", "emergency_phone")


def building_footprint(store: Store, enterprise: str, drawing: Drawing | None):
    """The lon/lat outline, on the site plan, of the building a floor plan belongs to (None when the drawing names
    no building, or no single feature on the site plan is that building: the store then says so)."""
    if drawing is None or not drawing.building_ref or store is None:
        return None
    try:
        site = store.layout_features(enterprise)
    except NotFoundError:
        return None
    found = FeatureIndex(site).match(drawing.building_ref) if len(site) else None
    if found is None:
        return None
    geometry = site.geometry.iloc[found.position]
    return geometry if geometry is not None and geometry.geom_type in ("Polygon", "MultiPolygon") else None


def load_layout(settings: Any, file: Path, *, store: Store, author: str | None = None, reason: str | None = None,
                on_step: Callable[[str], None] | None = None, drawing: Drawing | None = None, **options: Any) -> dict:
    """Import a drawing into the store as the settings' enterprise's new layout version of that drawing (None: the
    site plan); return the import's summary (features per role, CRS, residuals, warnings) with the enterprise, the
    drawing and the version written."""
    def step(name: str) -> None:
        if on_step is not None:
            on_step(name)

    drawing = drawing or SITE_PLAN
    options.setdefault("footprint", building_footprint(store, settings.enterprise, drawing))
    layout = import_layout_file(settings, file, on_step=step, schematic=drawing.schematic, **options)
    step("store")
    version = store.save_layout(settings.enterprise, layout, author=author, reason=reason, drawing=drawing)
    return layout.summary() | {"enterprise": settings.enterprise, "layout_version": version,
                               "drawing": drawing.to_json() | {"plane": layout.georeference.get("plane")}}


def import_ledger(store: Store, ledger: Ledger, *, source: str, enterprise: str | None = None,
                  author: str | None = None, reason: str | None = None) -> dict:
    """Assess the ledger's units under its profile and store them as the enterprise's new ledger version, with
    the enterprise's names and phones the ledger gives. Returns {enterprise, ledger_version, warnings}: a
    warning per `feature` reference that names no feature of the stored layout (or several)."""
    assess_units(ledger.units, default_profile=ledger.profile)
    name = enterprise or ledger_enterprise(store, ledger)
    current = store.enterprise(name)
    if ledger.enterprise is not None:
        given = {attr: getattr(ledger.enterprise, attr) for attr in ENTERPRISE_CONTACTS}
        if any(v is not None for v in given.values()):
            for attr, value in given.items():
                if value is not None:
                    setattr(current, attr, value)
            store.update_enterprise(current)
    version = store.save_units(name, ledger.units, source=source, default_profile=ledger.profile, author=author,
                               reason=reason)
    features = store.layout_features(name)
    warnings = resolve_unit_geometries(copy.deepcopy(list(ledger.units)), features) if len(features) else []
    known = {d.key for d in store.drawings(name)}
    pending = not_imported_warning(ledger.units, known)
    warnings += [pending] if pending else []
    for key in sorted({d for u in ledger.units for d in u.placements} & known):
        warnings += bind_placements(ledger.units, key, store.layout_features(name, drawing=key))[1]
    return {"enterprise": name, "ledger_version": version, "warnings": warnings}


def ledger_enterprise(store: Store, ledger: Ledger) -> str:
    """Where a ledger goes when no enterprise is named: the enterprise the ledger names if it is stored; else
    the only stored enterprise while it has no ledger (its layout was imported first; an unnamed "default"
    takes the ledger's name); else the ledger's own enterprise; else the usual rule."""
    named = ledger.enterprise.name if ledger.enterprise and ledger.enterprise.name else None
    stored = store.enterprises()
    if named and any(e.name == named for e in stored):
        return named
    if len(stored) == 1 and store.ledger_info(stored[0].name) is None:
        only = stored[0]
        if named and only.name == "default":
            only.name = named
            store.update_enterprise(only)
        return only.name
    return named or resolve_enterprise(store, None)
