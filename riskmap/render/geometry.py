"""Geometry helpers shared by every renderer (PNG and MVT tiles, paper maps): shapely type ids, ragged arrays and
the small reshapes a renderer needs before drawing (rings as lines, collections as parts).
"""

from __future__ import annotations

import numpy as np
import shapely

# shapely type ids
POINT, LINESTRING, LINEARRING, POLYGON, MULTIPOINT, MULTILINESTRING, MULTIPOLYGON, COLLECTION = range(8)
POLYGONAL = (POLYGON, MULTIPOLYGON)
LINEAR = (LINESTRING, LINEARRING, MULTILINESTRING)
PUNTAL = (POINT, MULTIPOINT)


def ragged(geoms: np.ndarray, levels: int) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Coordinates and offsets of a ragged array, always as the Multi type (single parts get a part level)."""
    _, coords, offsets = shapely.to_ragged_array(geoms, include_z=False)
    if len(offsets) < levels:
        offsets = (*offsets, np.arange(len(geoms) + 1, dtype=np.int64))
    return coords, offsets


def polygonal_part(geom):
    """The areas of a geometry (a collection's polygons as one multipolygon), an empty polygon when it has none."""
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in POLYGONAL]
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.multipolygons(
        [q for p in parts for q in shapely.get_parts(p)])


def rings_as_lines(geoms: np.ndarray) -> np.ndarray:
    """Linear rings as closed line strings, so that they are drawn and clipped like the other lines; other
    geometries unchanged."""
    rings = shapely.get_type_id(geoms) == LINEARRING
    if rings.any():
        geoms = geoms.copy()
        geoms[rings] = shapely.linestrings(shapely.get_coordinates(geoms[rings]),
                                           indices=np.repeat(np.arange(rings.sum()),
                                                             shapely.get_num_coordinates(geoms[rings])))
    return geoms


def explode_collections(geoms, cls, bounds, types):
    """Geometry collections as their parts (one feature may hold an area and a point), each with its class."""
    coll = types == COLLECTION
    parts, index = shapely.get_parts(geoms[coll], return_index=True)
    geoms = np.concatenate([geoms[~coll], parts])
    cls = np.concatenate([cls[~coll], cls[coll][index]])
    return geoms, cls, shapely.bounds(geoms), shapely.get_type_id(geoms)
