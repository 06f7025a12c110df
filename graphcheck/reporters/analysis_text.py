"""One model's analysis in plain sentences: counts, then one sentence per stochastic call.

These are the reasons behind the text report's verdict and table
(:mod:`.text_report`, which prints them with ``-v``), and the notebook's lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphcheck.analyses.inner import InnerStochasticCall
from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.analyses.stochastic import (
    MaskedTensor,
    MaskKind,
    ModeDependentCall,
    StochasticCall,
    is_active,
)
from graphcheck.analyses.training_transform import training_transform
from graphcheck.graph import LayerCall
from graphcheck.kinds import facts_of
from graphcheck.layers import Stochastic, looks_like_dropout
from graphcheck.reporters.activity import in_and_off
from graphcheck.reporters.frozen_words import frozen_clause
from graphcheck.semantics import ContextRule, Scenario

__all__ = ["ignored_submodel_flags", "model_text", "origin_text", "render_text"]

_FORMATS = {
    "h5": "HDF5",
    "keras": ".keras archive",
    "json": "architecture JSON",
    "tfjs": "TF.js model.json",
    "savedmodel": "SavedModel",
    "preset": "KerasHub preset",
}


def render_text(analyses: Sequence[ModelAnalysis]) -> str:
    """Several models' sentences, separated by blank lines."""
    return "\n".join(model_text(a) for a in analyses)


def origin_text(analysis: ModelAnalysis) -> str:
    """Where the graph comes from: ``HDF5, saved by Keras 3.15.1`` (or a live object)."""
    saved = analysis.saved
    if saved.format == "live":
        return saved.source  # "live object (keras 3.15.1)"
    origin = (
        f"{_FORMATS.get(saved.format, saved.format)}, saved by Keras "
        f"{saved.keras_version or 'of unknown version'}"
    )
    if saved.extra.get("keras_hub_version"):
        origin += f" and KerasHub {saved.extra['keras_hub_version']}"
    if saved.source != "stored config":
        origin += f", graph {saved.source}"
    return origin


def model_text(analysis: ModelAnalysis) -> str:
    """One model's analysis as one plain sentence per call: the reasons behind the
    text report (its ``-v``), the notebook's lines and the callback's words."""
    saved = analysis.saved
    choice = analysis.choice
    lines = [
        f"{saved.path}",
        f"  {origin_text(analysis)}; semantics: {choice.profile.title}, for {choice.source}",
    ]
    calls = analysis.layer_calls()
    states = analysis.frozen.calls
    frozen = sum(1 for c in calls if states[c.path].frozen is True)
    trainable = sum(1 for c in calls if states[c.path].frozen is False)
    unknown = len(calls) - frozen - trainable
    count_line = f"  {len(calls)} layer calls: {frozen} frozen, {trainable} trainable"
    if unknown:
        count_line += f", {unknown} unknown (a submodel's trainable flag is not recorded)"
    count_line += f"; {len(analysis.stochastic)} stochastic"
    if analysis.inner_stochastic:  # counted apart: they have no call of their own
        count_line += f", plus {len(analysis.inner_stochastic)} stochastic sublayer(s)"
    if analysis.mode_dependent:
        count_line += f", {len(analysis.mode_dependent)} BatchNormalization"
    lines.append(count_line)
    top = saved.model
    if not top.receives_training and analysis.profile.context_rule is not ContextRule.PATH:
        lines.append(
            f"  note: {top.class_name}.call takes no training argument, so Keras 3's fit() "
            "and predict() call it with none: every layer runs as in model(x)"
        )
    if analysis.conflicts:
        changed = sorted({c.path for c in analysis.conflicts})
        saving_title = analysis.saving_profile.title if analysis.saving_profile else "?"
        lines.append(
            f"  note: the saving Keras ({saving_title}) "
            f"and the running Keras treat stored training= flags differently: "
            f"{len(changed)} call(s) change behaviour: {', '.join(changed[:6])}"
            + (" ..." if len(changed) > 6 else "")
        )
    if not analysis.stochastic and not analysis.inner_stochastic:
        lines.append("  no stochastic layers")
    for item in analysis.stochastic:
        lines.append("  " + _stochastic_sentence(item, analysis))
    for inner in analysis.inner_stochastic:
        where = frozen_clause(
            inner.path, inner.frozen_by, inner.frozen_by_kind, bool(inner.active[Scenario.FIT]),
            sublayer=inner.path != inner.holder,
        ) or "not inside anything frozen"
        rate = f", rate {inner.spec.rate:g}" if inner.spec.rate is not None else ""
        if inner.own_random:
            held = "" if inner.path == inner.holder else f", a sublayer of {inner.holder_class}"
            if inner.draws is None:
                activity = (
                    f"may draw random numbers in its own code; its holder's symbolic call "
                    f"failed ({inner.probe_error}), so whether and when is not known "
                    "statically (`graphcheck validate` observes it)"
                )
            else:
                activity = f"draws random numbers in its own code: {in_and_off(inner.active)}"
            lines.append(f"  {inner.path} ({inner.class_name}{held}): {activity}; {where}")
            continue
        lines.append(
            f"  {inner.path} ({inner.class_name}{rate}, a sublayer of {inner.holder_class}): "
            f"{in_and_off(inner.active)}"
            + (" (rate 0: a no-op)" if inner.spec.is_noop else _held_how(inner, analysis))
            + f"; {where}"
        )
    lines.extend("  " + line for line in _frozen_submodel_lines(analysis))
    lines.extend("  " + line for line in _mode_lines(analysis))
    opened = analysis.opened_calls()
    if opened:
        lines.append(
            f"  randomness of {len(opened)} call(s) of Keras's own classes read from their "
            f"sublayers and a symbolic call of each (the stochastic ones, and those drawing "
            f"random numbers in their own code, as a DropPath does, are listed above): "
            f"{_first_calls(opened)}"
        )
    opened_paths = {c.path for c in opened}
    unknown_calls = [c for c in analysis.unknown_calls() if c.path not in opened_paths]
    if unknown_calls:
        lines.append(
            f"  stochasticity unknown for {len(unknown_calls)} call(s) of unknown classes: "
            f"{_first_calls(unknown_calls)}"
        )
        for call in unknown_calls:
            if looks_like_dropout(call.layer.config):
                lines.append(
                    f"  {call.path} ({call.layer.class_name}) is not a Keras class but is "
                    "configured "
                    "like a Dropout: it may be a custom (often MC) dropout, whose mode in fit() "
                    "and predict() cannot be known statically"
                )
    return "\n".join(lines) + "\n"


def _stochastic_sentence(item: StochasticCall, analysis: ModelAnalysis) -> str:
    graph = analysis.graph
    name = item.path
    what = _strength(item)
    if item.spec.kind is Stochastic.ATTENTION_DROPOUT:
        target = "the attention weights computed from " + " and ".join(
            f"{_describe_tensor(m, graph.call(m.producer).layer.config)} ({m.argument})"
            for m in item.masks
        ) if item.masks else "its attention weights"
    elif item.masks:
        target = " and ".join(
            _describe_tensor(m, graph.call(m.producer).layer.config) for m in item.masks
        )
        if item.spec.kind is Stochastic.RNN_DROPOUT and item.internal:
            target += " (and its recurrent state)"
    elif item.spec.kind is Stochastic.RNN_DROPOUT:
        target = "its recurrent state"
    else:
        target = "nothing (it has no input)"
    verb = facts_of(item.spec.kind).verb
    if any(m.kind == MaskKind.SAMPLED_FROM for m in item.masks):
        # A sampler (tf.random.normal): new values from a shape or parameters it reads.
        verb = "draws random values from"
        target += " (read, not changed)"
    sentence = f"{name} ({item.class_name}{what}) {verb} {target}"
    if item.masked_inside:
        readers = ", ".join(item.output_consumers[:4]) + (
            " ..." if len(item.output_consumers) > 4 else ""
        )
        sentence += " inside its own call; its output" + (
            f" (read by {readers})" if readers else ""
        ) + " is not masked"
    elif item.consumers:
        sentence += (
            " before " + ", ".join(item.consumers[:4]) + (" ..." if len(item.consumers) > 4 else "")
        )
    if item.feeds_output:
        sentence += ", which is a model output"
    sentence += "; " + in_and_off(item.active)
    if item.spec.is_noop:
        sentence += " (rate 0: a no-op)"
    sentence += "; " + _frozen_words(item)
    transform = training_transform(item.spec)
    if transform is not None and not item.spec.is_noop and any(item.active.values()):
        if transform.inference == "identity":
            sentence += f"; when active, {transform.text}; identity when not"
        else:
            sentence += f"; {transform.text}; at inference {transform.inference}"
    return sentence


def _first_calls(calls: Sequence[LayerCall]) -> str:
    """The first five calls as "path (Class)", then " ..." when there are more."""
    names = ", ".join(f"{c.path} ({c.layer.class_name})" for c in calls[:5])
    return names + (" ..." if len(calls) > 5 else "")


def _frozen_words(item: StochasticCall) -> str:
    """What declares the call frozen, and that it does not stop it when it fires in fit()."""
    fires = item.active[Scenario.FIT]
    clause = frozen_clause(item.path, item.frozen_by, item.frozen_by_kind, fires)
    return clause or "not inside a frozen submodel"


def _strength(item: StochasticCall) -> str:
    spec = item.spec
    parts = []
    if spec.wrapped:
        parts.append(f"wrapping {spec.wrapped}")
    if spec.rate is not None:
        parts.append(f"{spec.parameter} {spec.rate:g}")
    if spec.recurrent_rate:
        parts.append(f"recurrent_dropout {spec.recurrent_rate:g}")
    return (", " + ", ".join(parts)) if parts else ""


def _describe_tensor(masked: MaskedTensor, config: Mapping[str, Any]) -> str:
    if masked.is_model_input:
        return f"the model input {masked.producer}"
    details = [masked.producer_class]
    for key, unit in (("units", "units"), ("filters", "filters"), ("output_dim", "units")):
        if isinstance(config.get(key), int):
            details.append(f"{config[key]} {unit}")
            break
    if masked.shape is not None:
        details.append(
            "shape (" + ", ".join("None" if d is None else str(d) for d in masked.shape) + ")"
        )
    index = f"[{masked.output_index}]" if masked.output_index else ""
    return f"the output{index} of {masked.producer} ({', '.join(details)})"


def _frozen_submodel_lines(analysis: ModelAnalysis) -> list[str]:
    lines = []
    top = analysis.saved.model
    if top.trainable is False:
        firing = [s.path for s in analysis.stochastic if s.active[Scenario.FIT]]
        head = f"frozen top model {top.name} ({top.class_name}, trainable=False)"
        if firing:
            lines.append(
                f"{head}: {len(firing)} of {len(analysis.stochastic)} stochastic layer(s) still "
                "drop during fit() (trainable=False freezes weights, not dropout)"
            )
    submodels = analysis.graph.submodels
    ignored = ignored_submodel_flags(analysis)
    for path, state in analysis.frozen.submodels.items():
        if state.trainable is not False:
            continue
        sub = submodels[path]
        inside: list[Any] = [
            s for s in analysis.stochastic if path in analysis.graph.call(s.path).submodels
        ]
        flag = "" if sub.training is None else f", called with training={sub.training}"
        if path in ignored:
            # Said here, not only in a finding: the stored flag reads as if it held.
            overridden_in = (
                "training=True in fit()" if sub.training is False else "training=False in predict()"
            )
            flag += (
                f", a flag {analysis.profile.title} ignores in fit() and predict(): "
                f"its layers receive {overridden_in}"
            )
        head = f"frozen submodel {path} ({sub.layer.class_name}, trainable=False{flag})"
        # Sublayers held inside its layers (found on a built object) count too.
        inside = inside + [
            s
            for s in analysis.inner_stochastic
            if path in analysis.graph.call(s.holder).submodels
        ]
        if not inside:
            lines.append(f"{head}: no stochastic layers inside")
            continue
        firing = [s.path for s in inside if s.active[Scenario.FIT]]
        if firing:
            lines.append(
                f"{head}: {len(firing)} of {len(inside)} stochastic layer(s) still drop during "
                "fit() "
                "(trainable=False freezes weights, not dropout)"
            )
        else:
            lines.append(f"{head}: its {len(inside)} stochastic layer(s) are off during fit()")
    return lines


def ignored_submodel_flags(analysis: ModelAnalysis) -> dict[str, bool]:
    """Frozen submodels called with a stored ``training=`` flag that the running Keras
    overrides in fit() and predict(), with that flag."""
    found: dict[str, bool] = {}
    submodels = analysis.graph.submodels
    if not analysis.profile.top_overrides_stored:
        return found
    for path, state in analysis.frozen.submodels.items():
        sub = submodels[path]
        if state.trainable is not False or sub.training is None:
            continue
        overrides = Scenario.FIT if sub.training is False else Scenario.PREDICT
        within = [
            values[overrides].value
            for call_path_, values in analysis.training.by_call.items()
            if path in analysis.graph.call(call_path_).submodels
        ]
        # A subclassed model's Python call honours the flag: nothing is overridden.
        honoured = bool(within) and all(value == sub.training for value in within)
        if not honoured:
            found[path] = sub.training
    return found


def _mode_lines(analysis: ModelAnalysis) -> list[str]:
    modes = analysis.mode_dependent
    if not modes:
        return []
    batch_in_fit = [m for m in modes if m.batch_statistics[Scenario.FIT]]
    frozen = [m for m in modes if m.trainable is False]
    line = (
        f"BatchNormalization: {len(batch_in_fit)} of {len(modes)} use batch statistics in fit() "
        f"({len(frozen)} have trainable=False and always use moving statistics)"
    )
    leaked = [
        m
        for m in modes
        if m.batch_statistics[Scenario.PREDICT] or m.batch_statistics[Scenario.CALL]
    ]
    lines = [line]
    if leaked:
        lines.append(
            "BatchNormalization using batch statistics at inference: "
            + ", ".join(f"{m.path} ({', '.join(_batch_scenarios(m))})" for m in leaked[:5])
        )
    return lines


def _batch_scenarios(mode: ModeDependentCall) -> list[str]:
    """Labels of the scenarios other than fit() in which a BatchNormalization uses batch stats."""
    return [s.label for s in Scenario if s is not Scenario.FIT and mode.batch_statistics[s]]


def _held_how(inner: InnerStochasticCall, analysis: ModelAnalysis) -> str:
    """Whose ``training`` a held sublayer's activity follows: its holder's, or, as the
    symbolic calls of the holder showed, a value the holder's code gives it."""
    received = analysis.training[inner.holder]
    if all(is_active(inner.spec, received[s]) == inner.active[s] for s in Scenario):
        return ", the same as its holder's call"
    return ", as its holder's code runs it (seen in symbolic calls of the holder)"
