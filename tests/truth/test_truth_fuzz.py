"""The truth fuzzer (``benchmarks/truth_fuzz.py``) keeps building models Keras runs.

A few fixed seeds per flavour go through the whole case (build, live analysis, save,
static analysis, reload, real runs) and must agree with no Keras error; the seeds
were picked to cover nested and shared submodels, call-site flags, frozen parents
and the wrappers. The same seed must build the same model.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from builders import KERAS_VERSIONS

pytestmark = pytest.mark.truth

FUZZER = Path(__file__).resolve().parents[2] / "benchmarks" / "truth_fuzz.py"
#: Per flavour, the seeds and whether explicit ``training=None`` flags are generated.
SEEDS = {"keras3": ((1010, 1014), False), "tfkeras": ((2005,), True)}


def _fuzzer() -> ModuleType:
    if "truth_fuzz" in sys.modules:
        return sys.modules["truth_fuzz"]
    spec = importlib.util.spec_from_file_location("truth_fuzz", FUZZER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("flavour", "seed"), [(f, s) for f, (seeds, _) in SEEDS.items() for s in seeds]
)
def test_fixed_seed_agrees(tmp_path: Path, flavour: str, seed: int) -> None:
    """One generated case: every comparison passes and Keras builds, saves and loads it."""
    if flavour not in KERAS_VERSIONS:
        pytest.skip(f"{flavour} is not installed")
    outcome, description = _fuzzer().run_case(flavour, seed, tmp_path, SEEDS[flavour][1])
    assert outcome.keras_error is None, outcome.keras_error
    assert outcome.failures == [], f"{description}\n{outcome.failures}"


def test_same_seed_same_model() -> None:
    """A seed is a reproducible case: the description it prints can be rebuilt."""
    fuzz = _fuzzer()
    flavour = next(iter(KERAS_VERSIONS))
    first = fuzz.build_case(flavour, 5)[1]
    assert first and first == fuzz.build_case(flavour, 5)[1]
    assert first != fuzz.build_case(flavour, 6)[1]
