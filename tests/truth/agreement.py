"""One comparison of graphcheck's static answer with what Keras did, on plain data.

Shared by the in-process truth suite (``test_truth.py``) and the version matrix
(``test_matrix.py``, whose observations come back as JSON from other environments).
Static entries are grouped by `strip_call_suffixes(path)`; per group and scenario the
multiset of booleans must equal the observed one (the order of a shared layer's
calls is not compared).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from graphcheck.runtime import strip_call_suffixes

STATIC_SCENARIOS = ("fit", "predict", "call")
BN = frozenset({"BatchNormalization", "SyncBatchNormalization"})

#: Per scenario and group path, one value per call (what ``Observation`` projects).
ByScenario = Mapping[str, Mapping[str, Sequence[bool]]]


def model_entry(result: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the one model entry of an `analyse` result (bare, or under "models")."""
    if "stochastic" in result:
        return result
    (entry,) = result["models"]
    return entry


def group(entries: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for entry in entries:
        groups[strip_call_suffixes(entry["path"])].append(entry)
    return dict(groups)


def assert_agrees(
    entry: Mapping[str, Any],
    active: ByScenario,
    bn_batch_stats: ByScenario,
    class_names: Mapping[str, str],
    weights_changed: Mapping[str, bool] | None = None,
    fit_error: str | None = None,
) -> None:
    """Per layer and scenario, static activity and BN mode equal the observed ones.

    With ``weights_changed``, the layers whose weights changed in one fit() step are
    also those predicted to train.
    """
    inner_items = entry.get("inner_stochastic", [])
    stochastic = group(entry["stochastic"])
    # Sublayers held by a layer are claims too, as their holder's call: compared as a
    # set, since the holder's code may call one any number of times (a ViT MLP's
    # Dropout, twice). A layer drawing random numbers in its own code is held to its
    # draws in the own_random truth tests.
    inner = group(i for i in inner_items if not i.get("own_random"))
    own_random = set(group(i for i in inner_items if i.get("own_random")))
    modes = group(entry["mode_dependent"])
    for scenario in STATIC_SCENARIOS:
        predicted = {
            p: Counter(bool(e["active"][scenario]) for e in es) for p, es in stochastic.items()
        }
        observed = {
            path: Counter(flags)
            for path, flags in active[scenario].items()
            if class_names.get(path) not in BN and path not in own_random
        }
        for path, items in inner.items():
            claimed = {bool(e["active"][scenario]) for e in items}
            seen = set(observed.pop(path, Counter()))
            if not seen and all(e.get("rate") == 0 for e in items):
                continue  # rate 0: its holder may never call it (an MHA without dropout)
            assert seen == claimed, f"sublayer {path}, {scenario}: {seen} != {claimed}"
        # A layer that never acts (rate 0) may be left out statically.
        observed = {p: c for p, c in observed.items() if p in predicted or c[True]}
        assert predicted == observed, f"stochastic, {scenario}: {predicted} != {observed}"

        predicted_modes = {p: Counter(e["mode"][scenario] for e in es) for p, es in modes.items()}
        observed_modes = {
            path: Counter("batch" if flag else "moving" for flag in flags)
            for path, flags in bn_batch_stats[scenario].items()
        }
        assert predicted_modes == observed_modes, f"BN mode, {scenario}"
    if weights_changed is not None:
        assert_weights_match(entry, weights_changed, fit_error)


def assert_weights_match(
    entry: Mapping[str, Any], weights_changed: Mapping[str, bool], fit_error: str | None
) -> None:
    """The layers whose weights changed in one fit() step are those predicted to train."""
    assert fit_error is None, fit_error
    predicted: dict[str, bool] = {}
    for layer in entry["layers"]:
        if layer["will_train"] is not None:
            group_path = strip_call_suffixes(layer["path"])
            predicted[group_path] = predicted.get(group_path, False) or layer["will_train"]
    assert weights_changed, "no weight-bearing layer was observed"
    # Two-sided: a layer whose weights trained must be claimed too.
    unclaimed = sorted(p for p, changed in weights_changed.items() if changed and p not in predicted)
    assert not unclaimed, f"weights trained in fit() where graphcheck claims none: {unclaimed}"
    observed = {p: changed for p, changed in weights_changed.items() if p in predicted}
    assert {p: predicted[p] for p in observed} == observed, "weights changed in fit()"


def assert_saved_model_agrees(path: Any, model: Any, keras_version: str) -> None:
    """graphcheck's answers for the saved file equal what the reloaded ``model`` does.

    Observes every call in fit(), predict() and model(x) and one fit() step, then
    compares activity, BN mode and will_train with ``graphcheck.analyse(path)`` under
    ``keras_version`` (:func:`assert_agrees`).
    """
    from graphcheck import analyse
    from graphcheck.runtime import observe, synthesise_inputs

    obs = observe(model, synthesise_inputs(model), scenarios=STATIC_SCENARIOS)
    entry = model_entry(analyse(str(path), keras_version=keras_version))
    assert_agrees(
        entry, obs.active, obs.bn_batch_stats, obs.class_names, obs.weights_changed, obs.fit_error
    )
