"""The published hazards as one table of the vocabulary's fields (riskmap.vocabulary FIELDS["hazards"]), for every
reader outside the workflow: the OGC API collection and the GeoPackage / GeoJSON exports show the same columns.

Input is riskmap.store.hazards.hazards_frame's GeoDataFrame; hazards judged not to be one (rejected) and hazards
with no place are left out, as on the map.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from riskmap.hazards import reference
from riskmap.hazards.model import STATE_LABELS, State
from riskmap.vocabulary import item_fields

FIELDS = tuple(f.name for f in item_fields("hazards"))


def _zh(kind: str, values) -> list[str]:
    return [(reference.label(kind, int(v)) or "").split(" / ")[0] for v in values]


def published(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """hazard_id, the vocabulary's fields, registered_at (UTC, for time filters), version (the edit tag) and the
    geometry (EPSG:4326)."""
    kept = frame[(frame["state"] != State.REJECTED.value) & frame.geometry.notna()].reset_index(drop=True)
    registered = pd.to_datetime(kept["registered_at"], utc=True)
    table = pd.DataFrame({
        "hazard_id": kept["id"].astype(object),
        "name": kept["name"].astype(object), "state": kept["state"].astype(object),
        "state_zh": [STATE_LABELS[State(v)][0] for v in kept["state"]],
        "danger_level": kept["level"].astype("int64"), "danger_level_zh": _zh("dangerLevel", kept["level"]),
        "danger_state": kept["danger_state"].astype("int64"), "overdue": kept["overdue"].astype(bool),
        "source": kept["source"].astype("int64"), "source_zh": _zh("dangerSrc", kept["source"]),
        "deadline": kept["deadline"].astype(object), "department": kept["department"].astype(object),
        "unit_id": kept["unit_id"].astype(object),
        "registered": registered.dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d").astype(object),
        "registered_at": registered, "version": kept["version"].astype("int64"),
    })
    for column in ("deadline", "department", "unit_id"):
        table[column] = table[column].where(table[column].notna(), None)
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(kept.geometry.values, crs="EPSG:4326"),
                            crs="EPSG:4326")
