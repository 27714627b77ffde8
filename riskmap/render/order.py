"""The draw order of a layer's features, the one rule every output follows (PNG tiles, MVT, ST_AsMVT, prints):

1. by class in the style's order, bottom first: for risk levels not assessed, low, general, significant, major,
   so that a place always shows the highest level drawn there (a major area is never under a general one,
   whatever their shapes and sizes);
2. within a class, larger areas first, so that a smaller area of the same class stays visible inside a larger
   one (points and lines have no area and come after the areas of their class);
3. then by the unit tree's depth (main unit, sub-unit, sub-sub-unit, then posts, equipment and activities),
   then as given.

MVT features carry this as `rank` (the class's place, 0 = bottom) so that a client drawing them in order, or
sorting by `rank` (MapLibre's `fill-sort-key`, QGIS's symbol levels), paints what the PNG tiles paint.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from riskmap.domain import LEAF_DEPTH, UnitKind

# depth of a unit kind in the ledger's tree, by its code (UnitKind.depth); other kinds are the leaves
KIND_DEPTH = {k.value: k.depth for k in UnitKind if k.depth < LEAF_DEPTH}


def kind_depths(kinds: np.ndarray | None, n: int) -> np.ndarray:
    """The unit-tree depth of each feature from its kind (rule 3 of the draw order); an unknown kind sorts as a
    leaf, no kinds at all as depth 0."""
    if kinds is None:
        return np.zeros(n, np.int8)
    codes, uniques = pd.factorize(np.asarray(kinds, dtype=object), use_na_sentinel=True)
    lookup = np.array([KIND_DEPTH.get(str(u), LEAF_DEPTH) for u in uniques] + [LEAF_DEPTH], np.int8)
    return lookup[codes]


def draw_order(classes: np.ndarray, geoms: np.ndarray, kinds: np.ndarray | None = None) -> np.ndarray:
    """Positions of the features in draw order (see the module docstring); `classes` are the style's class
    indices (LayerStyle.class_indices)."""
    n = len(geoms)
    if n < 2:
        return np.arange(n)
    return np.lexsort((np.arange(n), kind_depths(kinds, n), -shapely.area(geoms), np.asarray(classes)))


def order_sql(rank_sql: str) -> str:
    """The same order as an SQL ORDER BY list (PostGIS), given the expression of a row's class rank."""
    cases = " ".join(f"WHEN '{k}' THEN {d}" for k, d in KIND_DEPTH.items())
    return f"{rank_sql}, ST_Area(geometry) DESC, CASE kind {cases} ELSE {LEAF_DEPTH} END, feature_id"
