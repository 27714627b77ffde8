"""Where the shipped data lives: the source checkout's `data/`, or the wheel's copy."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    """The shipped data folder: the checkout's `data/` when running from source, else the wheel's `_data/`."""
    checkout = _PACKAGE_DIR.parent / "data"
    if checkout.is_dir():
        return checkout
    return _PACKAGE_DIR / "_data"


def demo_dir() -> Path:
    """The demo plant's files, inside the shipped data folder."""
    return data_dir() / "demo"
