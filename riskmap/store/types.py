"""Column types that behave the same on SQLite and PostgreSQL.

Geometry is WKB in a BLOB on SQLite (no SpatiaLite: it crashes on this stack) and a PostGIS
`geometry(GEOMETRY, 4326)` on PostgreSQL; both keep every float64 bit of lon/lat. Times are stored as naive UTC
and handed back aware, because the two backends disagree on time zones otherwise. JSON columns carry
Decimals and dates tagged, so that exact values come back as the same Python objects.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import numpy as np
import shapely
from geoalchemy2 import Geometry
from sqlalchemy import JSON, DateTime, LargeBinary
from sqlalchemy.types import TypeDecorator

from riskmap.text import storable

SRID = 4326

# ---------------------------------------------------------------------------------------------- geometry


class LonLatGeometry(TypeDecorator):
    """A shapely geometry in lon/lat (EPSG:4326).

    Binds a shapely geometry, or bytes already encoded by `encode_wkb` for the dialect (the bulk path).
    """

    impl = LargeBinary
    cache_ok = True
    # What geoalchemy2's DDL hooks look up on a column type: no managed column, no automatic index (the GiST
    # index is declared in the schema and created by the migration).
    spatial_index = False
    use_typmod = None

    def load_dialect_impl(self, dialect):
        """Stored as PostGIS geometry (lon/lat, SRID 4326) on PostgreSQL, as WKB bytes elsewhere."""
        if dialect is None:   # geoalchemy2 probes types without a dialect
            return LargeBinary()
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Geometry(geometry_type="GEOMETRY", srid=SRID, spatial_index=False))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value, dialect):
        """Encode a shapely geometry for the column; bytes or text already encoded pass through."""
        if value is None or isinstance(value, (bytes, str)):
            return value
        return encode_wkb([value], dialect.name)[0]

    def process_result_value(self, value, dialect):
        """The stored value as a shapely geometry, whatever form the driver hands back."""
        if value is None:
            return None
        data = getattr(value, "data", value)   # geoalchemy2 hands back a WKBElement on PostgreSQL
        if isinstance(data, str):
            data = bytes.fromhex(data)
        return shapely.from_wkb(bytes(data))


def encode_wkb(geometries, dialect_name: str) -> list:
    """Vectorized encoding of geometries for LonLatGeometry: WKB bytes (SQLite) or hex EWKB (PostGIS).

    Coordinates are forced to 2D: PostGIS checks a column's dimension and plans are flat.
    """
    arr = np.asarray(geometries, dtype=object)
    missing = shapely.is_missing(arr)
    flat = shapely.force_2d(arr)
    if dialect_name == "postgresql":
        flat = shapely.set_srid(flat, SRID)
        out = shapely.to_wkb(flat, hex=True, include_srid=True)
    else:
        out = shapely.to_wkb(flat, hex=False)
    out = out.astype(object)
    out[missing] = None
    return out.tolist()


# ---------------------------------------------------------------------------------------------- time


class UTCDateTime(TypeDecorator):
    """An aware datetime, stored as naive UTC on both backends."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Store as naive UTC; a naive datetime is refused because its zone would be a guess."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        """The stored time as an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):   # SQLite without declared type affinity, defensive
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime, the form every time column takes."""
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------- JSON


def to_json(value: Any) -> Any:
    """Plain JSON data for a value; Decimal, date, datetime, non-finite floats and bytes are tagged.

    numpy scalars and arrays become Python numbers and lists, enums their value, tuples and sets lists;
    anything else its text, so that a source attribute of an odd type never stops an import. Text is made storable
    (riskmap.text): PostgreSQL's jsonb refuses the escape \u0000 and no UTF-8 text holds a lone surrogate.
    """
    if isinstance(value, str) and not isinstance(value, Enum):
        return storable(value)
    if value is None or isinstance(value, (bool, int)) and not isinstance(value, Enum):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, Enum):
        return to_json(value.value)
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        return {storable(str(k)): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    if isinstance(value, np.generic):
        return to_json(value.item())
    if isinstance(value, np.ndarray):
        return [to_json(v) for v in value.tolist()]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    return storable(str(value))


def from_json(value: Any) -> Any:
    """The inverse of `to_json`, for data already parsed."""
    if isinstance(value, dict):
        return untag({k: from_json(v) for k, v in value.items()})
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def untag(obj: dict) -> Any:
    """`json.loads` object_hook: a tagged object becomes its value, other objects stay."""
    if len(obj) == 1:
        ((key, inner),) = obj.items()
        if key in _UNTAG and isinstance(inner, str):
            return _UNTAG[key](inner)
    return obj


def loads(text: str | bytes) -> Any:
    """Parse JSON text written by `to_json` (the untagging runs inside the C parser's object hook)."""
    if not isinstance(text, str):   # psycopg hands over bytes
        text = bytes(text).decode("utf-8")
    return _DECODER.decode(text)


_UNTAG = {
    "$decimal": Decimal,
    "$date": date.fromisoformat,
    "$datetime": datetime.fromisoformat,
    "$float": float,
    "$bytes": lambda s: base64.b64decode(s.encode("ascii")),
}


_DECODER = json.JSONDecoder(object_hook=untag)


class Data(TypeDecorator):
    """JSON that keeps exact values (see `to_json`); Python None is SQL NULL."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        """Stored as the backend's JSON type; None stores SQL NULL, not JSON null."""
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value, dialect):
        """Encode with the store's JSON encoder (dates, Decimals and the like become JSON)."""
        return None if value is None else to_json(value)

    def process_result_value(self, value, dialect):
        """The stored JSON as Python data, whether or not the driver parsed it already."""
        # Engines made by riskmap.store.engine parse JSON with `loads` already; text or untouched data from
        # another engine is handled too.
        if isinstance(value, str):
            return loads(value)
        if value is None or getattr(dialect, "_json_deserializer", None) is loads:
            return value
        return from_json(value)
