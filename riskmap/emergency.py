"""Emergency features of a plant: which assembly point and escape route are nearest a unit (the post's card names
them), measured in metres in the plan's metric CRS.

Emergency features are layout features with an emergency role (riskmap.geo.model.EMERGENCY_ROLES) on any drawing:
a role is a role wherever the feature lies, so this module only reads the `role`, `name`, `fid` and geometry of
the features it is given. Pure: no storage, no rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from riskmap.geo.model import ROLE_ZH

# What a post's card names: the nearest of each of these roles.
CARD_ROLES: tuple[str, ...] = ("assembly_point", "escape_route")
# An escape route leads to the assembly point this close to its last vertex.
DESTINATION_M = 30.0


@dataclass(frozen=True)
class Nearest:
    """The nearest feature of one role to a unit: its name (or fid when unnamed) and the distance in metres
    (0 when the unit's shape touches or holds it)."""

    role: str
    name: str
    fid: str
    distance_m: float
    leads_to: str | None = None        # an escape route: the assembly point at its end (vertex order = direction)


class EmergencyIndex:
    """The features of some emergency roles, projected once into a metric CRS (the plan's), so that every card of
    a batch asks for its nearest ones without projecting the layout again."""

    def __init__(self, features: Any, crs: Any, roles: Sequence[str] = CARD_ROLES):
        import geopandas as gpd

        self.roles = tuple(roles)
        self.crs = crs
        self.frame = None
        if features is None or not len(features) or "role" not in features.columns:
            return
        mine = features[features["role"].isin(list(self.roles))]
        mine = mine[~(mine.geometry.isna() | mine.geometry.is_empty)]
        if len(mine):
            self.frame = gpd.GeoDataFrame(mine, geometry=mine.geometry.name, crs=mine.crs or 4326).to_crs(crs)

    def nearest(self, geometry: Any) -> dict[str, Nearest | None]:
        """For each role, the feature of that role nearest `geometry` (lon/lat, EPSG:4326); None for a role the
        layout has no feature of, or for every role when the unit has no geometry."""
        import geopandas as gpd

        out: dict[str, Nearest | None] = {role: None for role in self.roles}
        if self.frame is None or geometry is None or shapely.is_empty(geometry):
            return out
        frame = self.frame
        here = gpd.GeoSeries([geometry], crs=4326).to_crs(self.crs).iloc[0]
        distances = shapely.distance(np.asarray(frame.geometry.values, dtype=object), here)
        roles_of = frame["role"].to_numpy(dtype=object)
        names = frame["name"].to_numpy(dtype=object) if "name" in frame.columns else np.full(len(frame), None)
        fids = frame["fid"].astype(str).to_numpy(dtype=object) if "fid" in frame.columns \
            else np.full(len(frame), "", dtype=object)
        for role in self.roles:
            idx = np.flatnonzero((roles_of == role) & np.isfinite(distances))
            if not len(idx):
                continue
            best = int(idx[np.lexsort((fids[idx].astype(str), distances[idx]))[0]])
            named = isinstance(names[best], str) and bool(names[best].strip())
            leads_to = self._destination(frame.geometry.values[best]) if role == "escape_route" else None
            name = names[best].strip() if named else (f"通往{leads_to}的{ROLE_ZH[role]}" if leads_to
                                                      else f"{ROLE_ZH[role]} {fids[best]}")
            out[role] = Nearest(role, name, str(fids[best]), float(distances[best]), leads_to)
        return out

    def _destination(self, route: Any) -> str | None:
        """The named assembly point within DESTINATION_M of an escape route's last vertex, nearest first."""
        frame = self.frame
        points = frame[frame["role"] == "assembly_point"]
        if not len(points) or "name" not in points.columns:
            return None
        parts = shapely.get_parts(route)
        if not len(parts):
            return None
        end = shapely.points(shapely.get_coordinates(parts[-1])[-1])
        far = shapely.distance(np.asarray(points.geometry.values, dtype=object), end)
        order = np.argsort(far, kind="stable")
        for i in order.tolist():
            name = points["name"].iloc[i]
            if far[i] <= DESTINATION_M and isinstance(name, str) and name.strip():
                return name.strip()
        return None


def metres_text(distance_m: float) -> str:
    """A distance as a card prints it: "相邻" when touching, else rounded metres (to 5 m beyond 100 m)."""
    if distance_m < 0.5:
        return "相邻"
    if distance_m < 100:
        return f"约 {round(distance_m):d} 米"
    return f"约 {int(round(distance_m / 5.0) * 5):d} 米"


def card_text(nearest: dict[str, Nearest | None]) -> str:
    """The card's lines: each role's nearest feature and distance, or that none is recorded on the layout."""
    lines = []
    for role, found in nearest.items():
        label = ROLE_ZH[role]
        if found is None:
            lines.append(f"{label}：总平面图上未登记{label}")
        else:
            lines.append(f"最近{label}：{found.name}（{metres_text(found.distance_m)}）")
    return "\n".join(lines)
