"""Draw order of features that lie inside one another (a sub-unit inside its main unit): larger areas first, so
a child is never hidden under its parent. PNG tiles paint in that order, MVT features are written in it.

Equal areas (a unit without a geometry of its own is drawn with its parent's) go by the unit tree's depth:
main unit, then sub-unit, then sub-sub-unit, then posts, equipment and activities. Points and lines have no
area and come after every area.
"""

from __future__ import annotations

import numpy as np
import shapely

# depth of a unit kind in the ledger's tree (riskmap.domain.UnitKind values); other kinds are the leaves
KIND_DEPTH = {"main": 0, "sub": 1, "subsub": 2}
LEAF_DEPTH = 3


def kind_depths(kinds: np.ndarray | None, n: int) -> np.ndarray:
    if kinds is None:
        return np.zeros(n, np.int8)
    codes, uniques = _factorize(kinds)
    lookup = np.array([KIND_DEPTH.get(str(u), LEAF_DEPTH) for u in uniques] + [LEAF_DEPTH], np.int8)
    return lookup[codes]


def _factorize(values: np.ndarray):
    import pandas as pd

    return pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)


def size_order(geoms: np.ndarray, kinds: np.ndarray | None = None) -> np.ndarray:
    """Positions of `geoms` in draw order: larger area first, then shallower unit kind, then as given."""
    n = len(geoms)
    if n < 2:
        return np.arange(n)
    return np.lexsort((np.arange(n), kind_depths(kinds, n), -shapely.area(geoms)))


def paint_passes(bounds: np.ndarray, rank: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """For areas painted in batches (one path per class and pass), the pass each belongs to: of two areas where
    the envelope of one holds the other's, the one of higher `rank` is painted in a later pass when their
    classes differ, and in the same or a later one when they are alike (one class in one pass blends once
    where its areas overlap).

    An area inside another has its envelope inside the other's, so nesting is always seen; envelopes only
    over-approximate it (at worst an extra pass). Areas that merely overlap keep the class order (the higher
    level on top), and areas that hold nothing stay in pass 0: a plant without nesting paints as before,
    one path per class.
    """
    n = len(bounds)
    passes = np.zeros(n, np.int32)
    if n < 2:
        return passes
    boxes = shapely.box(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])
    a, b = shapely.STRtree(boxes).query(boxes)
    ba, bb = bounds[a], bounds[b]
    holds = (ba[:, 0] <= bb[:, 0]) & (ba[:, 1] <= bb[:, 1]) & (ba[:, 2] >= bb[:, 2]) & (ba[:, 3] >= bb[:, 3]) & \
        (rank[a] < rank[b])
    a, b = a[holds], b[holds]
    step = (cls[a] != cls[b]).astype(np.int32)
    if not step.any():
        return passes
    by = np.argsort(b, kind="stable")
    a, b, step = a[by], b[by], step[by]
    targets, starts = np.unique(b, return_index=True)
    for _ in range(n):                       # one step along the longest chain of overlaps per round
        best = np.maximum(passes[targets], np.maximum.reduceat(passes[a] + step, starts))
        if np.array_equal(best, passes[targets]):
            break
        passes[targets] = best
    return passes
