"""One enterprise's plant as the interfaces see it: layout, units with located geometry, and region risk.

Storage gives the parts; this joins them so that the CLI, the API and the renderers share one path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from riskmap.domain import RESIDUAL, AssessmentUnit, Enterprise, Region
from riskmap.drawings import SITE


@dataclass
class Plant:
    """One enterprise's plant as read from the store, at one data version (or a past moment, `as_of`), for every
    interface and renderer alike; `features` are in EPSG:4326."""

    enterprise: Enterprise
    features: Any                      # GeoDataFrame of the current layout, EPSG:4326
    units: list[AssessmentUnit]
    regions: list[Region]
    layout_info: dict | None
    data_version: int
    warnings: list[str] = field(default_factory=list)
    profile: str = "lec"               # the ledger's default criteria profile
    as_of: datetime | None = None      # the moment shown when the plant is a past state (None: the current one)
    layout_number: int | None = None   # the layout and ledger versions it was read from
    ledger_number: int | None = None
    drawing: Any = None                # riskmap.drawings.Drawing when not the site plan

    def region_risk(self, method: str = "highest", which: str = RESIDUAL, cap_below_highest: bool | None = None):
        """Region levels; the weighted method's cap comes from the criteria profile unless given."""
        from riskmap.aggregate import region_risk

        if cap_below_highest is None:
            cap_below_highest = _profile_cap(self.profile)
        return region_risk(self.regions, self.units, method=method, which=which,
                           cap_below_highest=cap_below_highest)


def _profile_cap(profile_name: str) -> bool:
    from riskmap.criteria import load_profile
    from riskmap.errors import RiskmapError

    try:
        return load_profile(profile_name).cap_below_highest
    except RiskmapError:
        return True   # a ledger naming a profile this server lacks keeps the safe default


def load_plant(store, enterprise_name: str | None, at: datetime | None = None, drawing: str | None = None) -> Plant:
    """Read the current layout and ledger of an enterprise (or those of a past moment `at`) and attach units
    to the layout's features; `drawing` names a drawing other than the site plan (its features, the units placed
    on it)."""
    from riskmap.attach import resolve_unit_geometries
    from riskmap.errors import no_enterprise

    enterprise_name = resolve_enterprise(store, enterprise_name)
    if enterprise_name not in {e.name for e in store.enterprises()}:
        raise no_enterprise(enterprise_name)

    enterprise = store.enterprise(enterprise_name, create=False)
    if drawing is not None and drawing != SITE:
        return _drawing_plant(store, enterprise, store.drawing(enterprise_name, drawing), at)
    if at is not None:
        return _past_plant(store, enterprise, at)
    from riskmap.store.history import regions_from

    # The reads are separate; a write between them would mix versions, so read again until the version holds.
    # Regions come from the features and units already read (as Store.regions would give them, read once).
    for _attempt in range(5):
        version = store.data_version(enterprise_name)
        features = store.layout_features(enterprise_name)
        units = store.units(enterprise_name)
        regions = regions_from(features, units)
        layout_info = store.layout_info(enterprise_name)
        ledger_info = store.ledger_info(enterprise_name) or {}
        if store.data_version(enterprise_name) == version:
            break
    warnings = resolve_unit_geometries(units, features) if len(features) else []
    return Plant(enterprise, features, units, regions, layout_info, version, warnings,
                 profile=ledger_info.get("default_profile") or "lec",
                 layout_number=(layout_info or {}).get("version"), ledger_number=ledger_info.get("version"))


def _past_plant(store, enterprise: Enterprise, at: datetime) -> Plant:
    """The plant as it was at `at`: the layout and ledger versions current then (the store keeps every one).

    Its data version is the one recorded then (0 when the audit trail does not reach back so far); caches of
    past plants key on the version numbers instead (riskmap.store.history.AsOf.key).
    """
    from riskmap.attach import resolve_unit_geometries
    from riskmap.store.history import plant_parts_at

    parts = plant_parts_at(store, enterprise.name, at)
    asof, features, units = parts["asof"], parts["features"], parts["units"]
    warnings = resolve_unit_geometries(units, features) if len(features) else []
    return Plant(enterprise, features, units, parts["regions"], parts["layout_info"], asof.data_version or 0,
                 warnings, profile=(parts["ledger_info"] or {}).get("default_profile") or "lec",
                 as_of=asof.at, layout_number=asof.layout_number, ledger_number=asof.ledger_number)


def _drawing_plant(store, enterprise: Enterprise, drawing, at: datetime | None) -> Plant:
    """A drawing other than the site plan, now or at `at`, as a Plant: its features, the units placed on it
    (riskmap.drawings.units_on_drawing), its regions."""
    from riskmap.attach import resolve_unit_geometries
    from riskmap.drawings import units_on_drawing
    from riskmap.store.history import regions_from, versions_at

    name = enterprise.name
    asof = versions_at(store, name, at) if at is not None else None
    layout_n = asof.layout_number if asof is not None else None
    ledger_n = asof.ledger_number if asof is not None else None
    version = asof.data_version or 0 if asof is not None else store.data_version(name)
    if asof is not None and layout_n is None:          # no layout yet at that moment
        from riskmap.store.layouts import empty_features

        features = empty_features()
    else:
        features = store.layout_features(name, version=layout_n, drawing=drawing.key)
    units = [] if asof is not None and ledger_n is None else store.units(name, version=ledger_n)
    units = units_on_drawing(units, drawing.key)
    regions = regions_from(features, units)
    warnings = resolve_unit_geometries(units, features) if len(features) else []
    ledger_info = store.ledger_info(name) or {}
    return Plant(enterprise, features, units, regions, store.layout_info(name, drawing=drawing.key), version,
                 warnings, profile=ledger_info.get("default_profile") or "lec", as_of=asof.at if asof else None,
                 layout_number=layout_n, ledger_number=ledger_n, drawing=drawing)


def resolve_enterprise(store, name: str | None) -> str:
    """The enterprise a command works on: the one named, else the only one in the database, else "default"."""
    from riskmap.errors import InputError

    if name:
        return name
    names = [e.name for e in store.enterprises()]
    if len(names) == 1:
        return names[0]
    if not names:
        return "default"
    raise InputError("数据库中有多个企业，请用 --enterprise 指定：" + "、".join(names)
                     + " / several enterprises in the database: name one with --enterprise")
