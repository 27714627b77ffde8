"""Where the shared symbology (`layers/`) lives, and loading it.

One source drives tiles, the web map and prints; an installed wheel carries a copy as `riskmap/_layers`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_PACKAGE_DIR = Path(__file__).resolve().parent


def layers_dir() -> Path:
    """The symbology folder: $RISKMAP_LAYERS_DIR, the source checkout's `layers/`, or the wheel's copy."""
    override = os.environ.get("RISKMAP_LAYERS_DIR")
    if override:
        return Path(override)
    checkout = _PACKAGE_DIR.parent / "layers"
    if checkout.is_dir():
        return checkout
    return _PACKAGE_DIR / "_layers"


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime: float) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def load_yaml(name: str, directory: Path | None = None) -> dict[str, Any]:
    """Load one symbology file by name (cached until the file changes)."""
    path = (directory or layers_dir()) / name
    return _load_cached(str(path), path.stat().st_mtime)
