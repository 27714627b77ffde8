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
        from pyproj import Transformer

        self.roles = tuple(roles)
        self._to_plan = Transformer.from_crs(4326, crs, always_xy=True)
        self._dest: dict[int, str | None] = {}
        self.geoms = np.zeros(0, dtype=object)
        self.role_of = self.names = self.fids = np.zeros(0, dtype=object)
        if features is None or not len(features) or "role" not in features.columns:
            return
        mine = features[features["role"].isin(list(self.roles))]
        mine = mine[~(mine.geometry.isna() | mine.geometry.is_empty)]
        if not len(mine):
            return
        frame = gpd.GeoDataFrame(mine, geometry=mine.geometry.name, crs=mine.crs or 4326).to_crs(crs)
        n = len(frame)
        self.geoms = np.asarray(frame.geometry.values, dtype=object)
        self.role_of = frame["role"].to_numpy(dtype=object)
        self.names = np.array([v.strip() if isinstance(v, str) and v.strip() else None
                               for v in (frame["name"] if "name" in frame.columns else [None] * n)], dtype=object)
        self.fids = frame["fid"].astype(str).to_numpy(dtype=object) if "fid" in frame.columns \
            else np.full(n, "", dtype=object)

    def nearest(self, geometry: Any) -> dict[str, Nearest | None]:
        """For each role, the feature of that role nearest `geometry` (lon/lat, EPSG:4326); None for a role the
        layout has no feature of, or for every role when the unit has no geometry."""
        out: dict[str, Nearest | None] = {role: None for role in self.roles}
        if not len(self.geoms) or geometry is None or shapely.is_empty(geometry):
            return out
        here = shapely.transform(geometry, lambda xy: np.column_stack(self._to_plan.transform(xy[:, 0], xy[:, 1])))
        distances = shapely.distance(self.geoms, here)
        for role in self.roles:
            idx = np.flatnonzero((self.role_of == role) & np.isfinite(distances))
            if not len(idx):
                continue
            best = int(idx[np.lexsort((self.fids[idx].astype(str), distances[idx]))[0]])
            leads_to = self._destination(best) if role == "escape_route" else None
            name = self.names[best] or (f"通往{leads_to}的{ROLE_ZH[role]}" if leads_to
                                        else f"{ROLE_ZH[role]} {self.fids[best]}")
            out[role] = Nearest(role, name, str(self.fids[best]), float(distances[best]), leads_to)
        return out

    def _destination(self, i: int) -> str | None:
        """The named assembly point within DESTINATION_M of escape route i's last vertex, nearest first."""
        if i not in self._dest:
            self._dest[i] = None
            points = np.flatnonzero((self.role_of == "assembly_point") & (self.names != None))  # noqa: E711
            parts = shapely.get_parts(self.geoms[i])
            if len(points) and len(parts):
                end = shapely.points(shapely.get_coordinates(parts[-1])[-1])
                far = shapely.distance(self.geoms[points], end)
                j = int(np.argmin(far))
                if far[j] <= DESTINATION_M:
                    self._dest[i] = self.names[points[j]]
        return self._dest[i]


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
