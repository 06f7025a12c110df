"""The JSON report: one document, ``schema_version`` and a list ``models``.

The schema is published in ``docs/report.schema.json``; keys are sorted and nothing
time-dependent is written, so the same model always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from graphcheck.analysis import ModelAnalysis
from graphcheck.reasons import explain_received, explain_stochastic
from graphcheck.semantics import Scenario

__all__ = ["SCHEMA_VERSION", "document", "model_entry", "render_json"]

SCHEMA_VERSION = "1.0"


def render_json(analyses: Sequence[ModelAnalysis], errors: Sequence[tuple[str, str]] = ()) -> str:
    """The whole JSON report as text."""
    return json.dumps(document(analyses, errors), indent=2, sort_keys=True) + "\n"


def document(analyses: Sequence[ModelAnalysis], errors: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "models": [model_entry(a) for a in analyses],
        "errors": [{"path": path, "error": message} for path, message in errors],
    }


def _scenarios(values: dict[Scenario, Any]) -> dict[str, Any]:
    return {scenario.value: values[scenario] for scenario in Scenario}


def _shape(shape: Any) -> list[Any] | None:
    return list(shape) if shape is not None else None


def model_entry(analysis: ModelAnalysis) -> dict[str, Any]:
    """One model's entry in the report."""
    saved = analysis.saved
    profile = analysis.profile
    frozen = analysis.frozen
    calls = analysis.layer_calls()
    layers = []
    for call in calls:
        state = frozen.calls[call.path]
        layers.append(
            {
                "path": call.path,
                "name": call.layer.name,
                "class_name": call.layer.class_name,
                "submodel": call.submodels[-1] if call.submodels else None,
                "call_index": call.call_index,
                "training_flag": call.training,
                "trainable": state.trainable,
                "frozen": state.frozen,
                "frozen_by": state.frozen_by,
                "has_weights": state.has_weights,
                "will_train": state.will_train,
            }
        )
    submodels = []
    for path, sub in analysis.graph.graph["submodels"].items():
        state = frozen.submodels[path]
        submodels.append(
            {
                "path": path,
                "name": sub.layer.name,
                "class_name": sub.layer.class_name,
                "call_index": sub.call_index,
                "training_flag": sub.training,
                "trainable": state.trainable,
                "frozen": state.frozen,
                "frozen_by": state.frozen_by,
                "parent": sub.parents[-1] if sub.parents else None,
            }
        )
    stochastic = []
    for item in analysis.stochastic:
        spec = item.spec
        stochastic.append(
            {
                "path": item.path,
                "class_name": item.class_name,
                "wrapped_class": spec.wrapped,
                "kind": spec.kind.value,
                "rate": spec.rate,
                "rate_parameter": spec.parameter,
                "recurrent_rate": spec.recurrent_rate,
                "noop": spec.is_noop,
                "granularity": spec.granularity,
                "masks": [
                    {
                        "producer": m.producer,
                        "output_index": m.output_index,
                        "shape": _shape(m.shape),
                        "producer_class": m.producer_class,
                        "is_model_input": m.is_model_input,
                    }
                    for m in item.masks
                ],
                "internal": list(item.internal),
                "consumers": list(item.consumers),
                "feeds_output": item.feeds_output,
                "inside_frozen": item.frozen_by is not None,
                "frozen_by": item.frozen_by,
                "masks_gradient_of": list(item.gradient_masked),
                "training": _scenarios({s: r.value for s, r in item.received.items()}),
                "active": _scenarios(item.active),
                "reason": explain_stochastic(
                    item.received, item.active, spec.kind, spec.is_noop, profile, item.path
                ),
            }
        )
    mode_dependent = [
        {
            "path": m.path,
            "class_name": m.class_name,
            "trainable": m.trainable,
            "frozen_by": m.frozen_by,
            "training": _scenarios({s: r.value for s, r in m.received.items()}),
            "mode": _scenarios({s: "batch" if b else "moving" for s, b in m.batch_statistics.items()}),
            "reason": _mode_reason(m, analysis),
        }
        for m in analysis.mode_dependent
    ]
    frozen_count = sum(1 for layer in layers if layer["frozen"] is True)
    trainable_count = sum(1 for layer in layers if layer["frozen"] is False)
    return {
        "path": saved.path,
        "format": saved.format,
        "dialect": saved.dialect,
        "keras_version": saved.keras_version,
        "backend": saved.backend,
        "model": {"name": saved.model.name, "class_name": saved.model.class_name},
        "profile": {
            "name": profile.name,
            "title": profile.title,
            "keras_version": analysis.choice.keras_version,
            "source": analysis.choice.source,
        },
        "saving_profile": analysis.saving_profile.name if analysis.saving_profile else None,
        "flag_conflicts": [
            {
                "path": c.path,
                "class_name": c.class_name,
                "scenario": c.scenario.value,
                "saving": c.saving,
                "running": c.running,
            }
            for c in analysis.conflicts
        ],
        "counts": {
            "layers": len(layers),
            "frozen": frozen_count,
            "trainable": trainable_count,
            "frozen_unknown": len(layers) - frozen_count - trainable_count,
            "will_train": sum(1 for layer in layers if layer["will_train"]),
            "submodels": len(submodels),
            "stochastic": len(stochastic),
            "mode_dependent": len(mode_dependent),
            "unknown_classes": len(analysis.unknown_calls()),
        },
        "inputs": list(analysis.graph.graph["inputs"]),
        "outputs": [
            {"producer": e.producer, "output_index": e.output_index}
            for e in analysis.graph.graph["outputs"]
        ],
        "layers": layers,
        "submodels": submodels,
        "stochastic": stochastic,
        "mode_dependent": mode_dependent,
        "unknown_layers": [
            {"path": c.path, "class_name": c.layer.class_name} for c in analysis.unknown_calls()
        ],
        "code_layers": [
            {"path": c.path, "class_name": c.layer.class_name} for c in analysis.code_calls()
        ],
    }


def _mode_reason(mode: Any, analysis: ModelAnalysis) -> str:
    if mode.trainable is False:
        return "trainable=False: BatchNormalization always uses its moving statistics"
    parts = []
    for scenario in Scenario:
        state = "batch statistics" if mode.batch_statistics[scenario] else "moving statistics"
        why = explain_received(mode.received[scenario], scenario, analysis.profile, mode.path)
        parts.append(f"{scenario.label}: {state} ({why})")
    return "; ".join(parts)
