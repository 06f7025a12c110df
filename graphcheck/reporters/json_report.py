"""The JSON report: one document, ``schema_version`` and a list ``models``.

The schema is published in ``docs/report.schema.json``; keys are sorted and nothing
time-dependent is written, so the same model always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from graphcheck.analyses.frozen import FrozenState
from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.analyses.training_transform import training_transform
from graphcheck.findings import ModelResult
from graphcheck.layers import StochasticSpec, looks_like_dropout
from graphcheck.model import WeightCounts
from graphcheck.reporters.json_text import dumps, dumps_document
from graphcheck.reporters.reasons import explain_batch_statistics, explain_inner, explain_stochastic
from graphcheck.semantics import Scenario, newest_measured

__all__ = [
    "SCHEMA_VERSION",
    "build_document",
    "document",
    "frozen_fields",
    "join_document",
    "model_entry",
    "render_entry",
    "render_json",
]

SCHEMA_VERSION = "1.0"


def render_json(analyses: Sequence[ModelAnalysis], errors: Sequence[tuple[str, str]] = ()) -> str:
    """The whole JSON report as text."""
    return dumps_document(document(analyses, errors))


def document(
    analyses: Sequence[ModelAnalysis], errors: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    return build_document([model_entry(a) for a in analyses], errors)


def build_document(
    entries: Sequence[dict[str, Any]], errors: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """The report as a dict, from model entries made earlier (:func:`model_entry`)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "models": list(entries),
        "errors": [{"path": path, "error": message} for path, message in errors],
    }


def render_entry(analysis: ModelAnalysis, result: ModelResult) -> str:
    """One model's entry of the gate's JSON report, with its findings, as text.

    The text is what :func:`.json_text.dumps_document` writes for the entry inside the
    report's ``models`` list; :func:`join_document` puts the entries together.
    Made where the model is analysed (a ``--jobs`` worker), so that only text is
    sent back and the parent encodes no model entry itself.
    """
    from graphcheck.reporters.findings_json import entry_with_findings

    # The same helper add_findings uses for the whole report: the same entry.
    return dumps(entry_with_findings(model_entry(analysis), result.findings), 2)


def join_document(entries: Sequence[str], document: Mapping[str, Any]) -> str:
    r"""``document`` as JSON text, its ``models`` list being ``entries`` (:func:`render_entry`).

    Gives the same bytes as :func:`.json_text.dumps_document` of the document with the
    entries in it, without encoding them again.
    """
    joined = dict(document, models=[])
    if not entries:
        return dumps_document(joined)
    items = []
    for key in sorted(joined):
        if key != "models":
            value = dumps(joined[key], 1)
        else:
            value = "[\n    " + ",\n    ".join(entries) + "\n  ]"
        items.append(f"{json.dumps(key)}: {value}")
    return "{\n  " + ",\n  ".join(items) + "\n}\n"


def _scenarios(values: dict[Scenario, Any]) -> dict[str, Any]:
    return {scenario.value: values[scenario] for scenario in Scenario}


def _shape(shape: Any) -> list[Any] | None:
    return list(shape) if shape is not None else None


def frozen_fields(state: FrozenState) -> dict[str, Any]:
    """A call's declared and effective trainable state, as the report and the HTML page name it."""
    return {
        "trainable": state.trainable,
        "frozen": state.frozen,
        "frozen_by": state.frozen_by,
        "frozen_by_kind": state.frozen_by_kind,
        "has_weights": state.has_weights,
        "will_train": state.will_train,
    }


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
                **frozen_fields(state),
                "weight_counts": _weight_counts(call.layer.weight_counts),
            }
        )
    submodels = []
    for path, sub in analysis.graph.submodels.items():
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
                "frozen_by_kind": state.frozen_by_kind,
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
                        "kind": m.kind,
                        "argument": m.argument,
                    }
                    for m in item.masks
                ],
                "internal": list(item.internal),
                "consumers": list(item.consumers),
                "masked_inside": item.masked_inside,
                "output_consumers": list(item.output_consumers),
                "feeds_output": item.feeds_output,
                "inside_frozen": item.frozen_by is not None,
                "frozen_by": item.frozen_by,
                "frozen_by_kind": item.frozen_by_kind,
                "masks_gradient_of": list(item.gradient_masked),
                "training": _scenarios({s: r.value for s, r in item.received.items()}),
                "active": _scenarios(item.active),
                "training_transform": _transform(item.spec),
                "reason": explain_stochastic(
                    item.received, item.active, spec.kind, spec.is_noop, profile, item.path
                ),
            }
        )
    inner_stochastic = [
        {
            "path": item.path,
            "holder": item.holder,
            "holder_class": item.holder_class,
            "class_name": item.class_name,
            "kind": item.spec.kind.value,
            "rate": item.spec.rate,
            "inside_frozen": item.frozen_by is not None,
            "frozen_by": item.frozen_by,
            "frozen_by_kind": item.frozen_by_kind,
            "active": _scenarios(item.active),
            "own_random": item.own_random,
            "draws": item.draws,
            "probe_error": item.probe_error,
            "reason": explain_inner(item, analysis.training[item.holder]),
        }
        for item in analysis.inner_stochastic
    ]
    mode_dependent = [
        {
            "path": m.path,
            "class_name": m.class_name,
            "trainable": m.trainable,
            "frozen_by": m.frozen_by,
            "frozen_by_kind": m.frozen_by_kind,
            "training": _scenarios({s: r.value for s, r in m.received.items()}),
            "mode": _scenarios(
                {s: "batch" if b else "moving" for s, b in m.batch_statistics.items()}
            ),
            "reason": explain_batch_statistics(
                m.received, m.batch_statistics, m.trainable, profile, m.path
            ),
        }
        for m in analysis.mode_dependent
    ]
    frozen_count = sum(1 for layer in layers if layer["frozen"] is True)
    trainable_count = sum(1 for layer in layers if layer["frozen"] is False)
    return {
        "path": saved.path,
        "format": saved.format,
        "source": saved.source,
        "inner_stochastic": inner_stochastic,
        "dialect": saved.dialect,
        "keras_version": saved.keras_version,
        "keras_hub_version": saved.extra.get("keras_hub_version"),
        "backend": saved.backend,
        "model": {"name": saved.model.name, "class_name": saved.model.class_name},
        "profile": {
            "name": profile.name,
            "title": profile.title,
            "keras_version": analysis.choice.keras_version,
            "source": analysis.choice.source,
            "newer_than_measured": analysis.choice.newer_than_measured,
            "newest_measured": str(newest_measured()),
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
        "inputs": list(analysis.graph.inputs),
        "outputs": [
            {"producer": e.producer, "output_index": e.output_index}
            for e in analysis.graph.outputs
        ],
        "layers": layers,
        "submodels": submodels,
        "stochastic": stochastic,
        "mode_dependent": mode_dependent,
        "unknown_layers": [
            {
                "path": c.path,
                "class_name": c.layer.class_name,
                "resembles_dropout": looks_like_dropout(c.layer.config),
            }
            for c in analysis.unknown_calls()
        ],
        "code_layers": [
            {"path": c.path, "class_name": c.layer.class_name} for c in analysis.code_calls()
        ],
    }


def _transform(spec: StochasticSpec) -> dict[str, Any] | None:
    transform = training_transform(spec)
    if transform is None:
        return None
    return {
        "transform": transform.transform,
        "text": transform.text,
        "inference": transform.inference,
        "kept_scale": transform.kept_scale,
        "offset": transform.offset,
        "dropped_value": transform.dropped_value,
        "noise_stddev": transform.noise_stddev,
    }


def _weight_counts(counts: WeightCounts | None) -> dict[str, Any] | None:
    if counts is None:
        return None
    return {
        "trainable": counts.trainable,
        "frozen": counts.frozen,
        "frozen_names": list(counts.frozen_names),
        "lora_rank": counts.lora_rank,
    }
