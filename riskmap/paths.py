"""Where the shipped data lives: the source checkout's `data/`, or the wheel's copy."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    checkout = _PACKAGE_DIR.parent / "data"
    if checkout.is_dir():
        return checkout
    return _PACKAGE_DIR / "_data"


def demo_dir() -> Path:
    return data_dir() / "demo"
