"""riskmap: four-colour safety risk maps computed from plant geometry and the risk ledger."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate", "region_risk"]


def __getattr__(name: str):
    # Lazy, so that `import riskmap` stays light for the CLI and the tests.
    if name == "evaluate":
        from riskmap.criteria import evaluate

        return evaluate
    if name == "region_risk":
        from riskmap.aggregate import region_risk

        return region_risk
    raise AttributeError(name)
