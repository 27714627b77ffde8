"""Placeholder: commands registered by this module are added by their capability."""

import typer


def register(app: typer.Typer) -> None:
    return None
