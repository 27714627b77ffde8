"""Hidden hazards (隐患排查治理): the record, the national codes and determination items, the closed loop.

The public face of the room: the record (`Hazard`, `State`), the workflow (`apply`, `Actor`, `TRANSITIONS`,
`allowed`) and the reference data (`codes`, `items`, `label`). The store part lives in riskmap.store.hazards
(its functions return plain dicts and these dataclasses); the interfaces call both.
"""

from __future__ import annotations

from riskmap.hazards.model import (
    DONE_STATES,
    GENERAL,
    MAJOR,
    OPEN_STATES,
    PLAN_PARTS,
    STATE_LABELS,
    FarFromPlantError,
    Hazard,
    HazardInputError,
    State,
)
from riskmap.hazards.reference import Item, codes, items, label
from riskmap.hazards.workflow import (
    TRANSITIONS,
    Actor,
    DeadlineError,
    FiveInPlaceError,
    Step,
    TransitionError,
    TransitionForbidden,
    allowed,
    apply,
    missing_five,
)

__all__ = [
    "DONE_STATES", "GENERAL", "MAJOR", "OPEN_STATES", "PLAN_PARTS", "STATE_LABELS", "TRANSITIONS", "Actor",
    "DeadlineError", "FarFromPlantError", "FiveInPlaceError", "Hazard", "HazardInputError", "Item", "State", "Step",
    "TransitionError", "TransitionForbidden", "allowed", "apply", "codes", "items", "label", "missing_five",
]
