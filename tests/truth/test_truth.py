"""graphcheck's static answers, compared with what Keras really does.

For every builder, flavour and save format: build, save, reload with the Keras that
wrote it, observe at run time, and compare with ``graphcheck.analyse(path,
keras_version=...)``.  Static entries are grouped by `strip_call_suffixes(path)`;
per group and scenario the multiset of booleans must equal the observed one
(the order of a shared layer's calls is not compared).

Until `graphcheck.analyse` exists these tests fail with ImportError, on purpose.
Deselect with ``-m "not truth"``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from builders import BUILDERS, FLAVOURS, KERAS_VERSIONS
from saving import FORMATS

from graphcheck.runtime import Observation, observe, strip_call_suffixes, synthesise_inputs

pytestmark = pytest.mark.truth

STATIC_SCENARIOS = ("fit", "predict", "call")
BN = frozenset({"BatchNormalization", "SyncBatchNormalization"})
CASES = [
    (flavour, builder, fmt)
    for flavour in FLAVOURS
    for builder in BUILDERS
    for fmt in FORMATS[flavour]
]


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


def observed_stochastic(obs: Observation, scenario: str) -> dict[str, Counter[bool]]:
    return {
        path: Counter(flags)
        for path, flags in obs.active[scenario].items()
        if obs.class_names.get(path) not in BN
    }


def observed_modes(obs: Observation, scenario: str) -> dict[str, Counter[str]]:
    return {
        path: Counter("batch" if flag else "moving" for flag in flags)
        for path, flags in obs.bn_batch_stats[scenario].items()
    }


@pytest.mark.parametrize(("flavour", "builder", "fmt"), CASES)
def test_static_matches_runtime(roundtrip: Any, flavour: str, builder: str, fmt: str) -> None:
    """Per layer and scenario, static activity and BN mode equal the observed ones."""
    from graphcheck import analyse  # ImportError until the static side lands

    path, model = roundtrip(BUILDERS[builder](flavour), flavour, fmt)
    obs = observe(model, synthesise_inputs(model), scenarios=STATIC_SCENARIOS)
    entry = model_entry(analyse(str(path), keras_version=KERAS_VERSIONS[flavour]))

    stochastic = group(entry["stochastic"])
    modes = group(entry["mode_dependent"])
    for scenario in STATIC_SCENARIOS:
        predicted = {
            p: Counter(bool(e["active"][scenario]) for e in es) for p, es in stochastic.items()
        }
        observed = observed_stochastic(obs, scenario)
        # A layer that never acts (rate 0) may be left out statically.
        observed = {p: c for p, c in observed.items() if p in predicted or c[True]}
        assert predicted == observed, f"stochastic, {scenario}"

        predicted_modes = {
            p: Counter(e["mode"][scenario] for e in es) for p, es in modes.items()
        }
        assert predicted_modes == observed_modes(obs, scenario), f"BN mode, {scenario}"

    assert_weights_match(entry, obs)


def assert_weights_match(entry: Mapping[str, Any], obs: Observation) -> None:
    """The layers whose weights changed in one fit() step are those predicted to train."""
    assert obs.fit_error is None, obs.fit_error
    predicted: dict[str, bool] = {}
    for layer in entry["layers"]:
        if layer["will_train"] is not None:
            group_path = strip_call_suffixes(layer["path"])
            predicted[group_path] = predicted.get(group_path, False) or layer["will_train"]
    observed = {p: changed for p, changed in obs.weights_changed.items() if p in predicted}
    assert observed, "no weight-bearing layer was observed"
    assert {p: predicted[p] for p in observed} == observed, "weights changed in fit()"
