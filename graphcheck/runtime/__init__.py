"""Optional runtime checks: the only graphcheck package that may import TensorFlow/Keras.

Keras and TensorFlow are imported inside functions, so importing this package is cheap.
"""

from __future__ import annotations

from graphcheck.runtime.inputs import synthesise_inputs, synthesise_targets
from graphcheck.runtime.layer_kinds import iter_layers
from graphcheck.runtime.observe import observe
from graphcheck.runtime.records import CallRecord, Observation, strip_call_suffixes
from graphcheck.semantics import RUN_SCENARIOS as SCENARIOS

__all__ = [
    "SCENARIOS",
    "CallRecord",
    "Observation",
    "iter_layers",
    "observe",
    "strip_call_suffixes",
    "synthesise_inputs",
    "synthesise_targets",
]
