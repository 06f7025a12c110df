"""`graphcheck validate --backend jax|torch`, run as on a machine without TensorFlow.

Each backend gets its own subprocesses with ``KERAS_BACKEND`` set and TensorFlow and
tf_keras made unimportable (`BLOCK_TENSORFLOW`), as on the GPU machine that has JAX
and PyTorch but no TensorFlow.  One subprocess builds and saves the models of
`backend_models.py` with that backend; one ``graphcheck validate --format json``
checks them and the Keras 3 samples.  A backend whose package cannot be imported is
skipped, with the reason.  CI installs JAX (CPU) beside TensorFlow, so the JAX half
runs there; torch is tested where it is installed (see docs/validate.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.keras

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
BACKEND_MODELS = Path(__file__).resolve().parent / "backend_models.py"
BACKENDS = ("jax", "torch")

#: Keras 3 samples (and one Keras 2 file that Keras 3 also loads).  Not here, too slow
#: for CI: transfer_inception_full.json (299x299) on either backend, and on JAX
#: transfer_inception.h5, whose weight initialisers XLA compiles one by one while it
#: loads.  Both agree when run by hand (docs/validate.md).
SAMPLE_FILES = (
    "inverted_dropout.keras",
    "inverted_dropout.h5",
    "inverted_dropout_tfkeras.h5",
    "merged_frozen.keras",
    "transfer_inception.h5",
)
SLOW_ON = {"jax": frozenset({"transfer_inception.h5"})}
MODEL_NAMES = (
    "noise_family",
    "batchnorm",
    "frozen_nested",
    "shared_submodel",
    "recurrent",
    "recurrent_on_input",
    "attention",
    "augmentation",
    "mc_dropout",
    "bfloat16",
)
BLOCK_TENSORFLOW = '''
import importlib.machinery
import sys


class _PathFinderWithoutTensorFlow(importlib.machinery.PathFinder):
    """Finds what PathFinder finds, except tensorflow and tf_keras: as if not installed."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname.partition(".")[0] in ("tensorflow", "tf_keras"):
            return None
        return super().find_spec(fullname, path, target)


sys.meta_path[sys.meta_path.index(importlib.machinery.PathFinder)] = _PathFinderWithoutTensorFlow
'''
RUN_CLI_BESIDE_TENSORFLOW = "from graphcheck.cli import run\nrun()\n"
RUN_CLI = BLOCK_TENSORFLOW + RUN_CLI_BESIDE_TENSORFLOW
RUN_BUILDERS = (
    BLOCK_TENSORFLOW
    + f"import runpy\nrunpy.run_path({str(BACKEND_MODELS)!r}, run_name='__main__')\n"
)


def environment(backend: str | None) -> dict[str, str]:
    """The subprocess environment: ``KERAS_BACKEND`` (unset for None), no legacy-Keras switch."""
    drop = ("TF_USE_LEGACY_KERAS", "KERAS_BACKEND")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def run_python(
    code: str, backend: str | None, *args: str, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c CODE ARGS`` in the repository root with `backend` in ``KERAS_BACKEND``."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment(backend),
        timeout=timeout,
        check=False,
    )


def validate(backend: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``graphcheck validate --backend BACKEND ARGS`` in a TensorFlow-free subprocess."""
    return run_python(RUN_CLI, backend, "validate", "--backend", backend, *args)


_UNAVAILABLE: dict[str, str | None] = {}


def unavailable(backend: str) -> str | None:
    """Why `backend` cannot run here (not installed, or its import fails), else None."""
    if backend not in _UNAVAILABLE:
        reason = None
        for package in ("keras", backend):
            if importlib.util.find_spec(package) is None:
                reason = f"{package} is not installed"
                break
        if reason is None:
            probe = run_python(BLOCK_TENSORFLOW + f"import {backend}\n", backend, timeout=300)
            if probe.returncode != 0:
                last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
                reason = f"import {backend} fails: {last}"
        _UNAVAILABLE[backend] = reason
    return _UNAVAILABLE[backend]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    reason = unavailable(name)
    if reason:
        hint = (
            "pip install 'jax[cpu]'; scripts/setup.sh --test installs it"
            if name == "jax"
            else "pip install torch, the CPU build; CI does not install it"
        )
        pytest.skip(f"--backend {name} not testable here: {reason} ({hint})")
    return name


@pytest.fixture(scope="module")
def validated(backend: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Build the models with `backend`, validate them and the samples: {file name: section}."""
    directory = tmp_path_factory.mktemp(f"models-{backend}")
    built = run_python(RUN_BUILDERS, backend, str(directory))
    assert built.returncode == 0, built.stderr[-3000:]
    slow = SLOW_ON.get(backend, frozenset())
    paths = [str(SAMPLES / name) for name in SAMPLE_FILES if name not in slow]
    paths += [str(directory / f"{name}.keras") for name in MODEL_NAMES]
    run = validate(backend, "--device", "cpu", "--format", "json", "--batch-size", "8", *paths)
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.returncode in (0, 1, 3), run.stderr[-3000:]
    sections = {
        Path(entry["path"]).name: entry["validation"]
        for entry in json.loads(run.stdout)["models"]
    }
    assert set(sections) == {Path(p).name for p in paths}
    return sections


@pytest.fixture(params=SAMPLE_FILES + MODEL_NAMES)
def section(request: pytest.FixtureRequest, validated: dict[str, Any], backend: str) -> Any:
    """One sample's or built model's validation section (a name without a dot: NAME.keras)."""
    name: str = request.param
    if name in SLOW_ON.get(backend, frozenset()):
        pytest.skip(f"{name} is too slow to load on {backend} for every test run")
    return validated[name if "." in name else f"{name}.keras"]


class TestAgreement:
    def test_agrees(self, section: Any, backend: str) -> None:
        """Every observation agrees with the static Keras 3 profile, on `backend`, on the CPU."""
        assert section["status"] == "agree", section.get("error") or section["findings"]
        assert section["keras"]["package"] == "keras"
        assert section["keras"]["backend"] == backend
        assert section["keras"]["device"].lower().startswith("cpu")
        import keras

        from graphcheck.semantics import profile_for_version

        assert section["profile"]["name"] == profile_for_version(keras.__version__).name
        assert section["calls"], "the model has stochastic or BN calls to compare"
        assert section["weights"], "fit compared at least one weight-bearing layer"

    def test_every_call_observed(self, section: Any) -> None:
        """Each statically predicted call was seen at run time in every scenario, fit() too."""
        assert section["status"] != "error", section["error"]
        missing = [
            (call["path"], scenario)
            for call in section["calls"]
            for scenario, values in call["scenarios"].items()
            if len(values["runtime"]["training"]) != len(values["static"]["training"])
        ]
        assert missing == []


class TestBesideTensorFlow:
    def test_tf_keras_file_needs_backend_tensorflow(self, backend: str) -> None:
        """TensorFlow installed: a tf_keras-only file asks for --backend tensorflow in one line."""
        if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec(
            "tf_keras"
        ) is None:
            pytest.skip("TensorFlow and tf_keras are not both installed here")
        run = run_python(
            RUN_CLI_BESIDE_TENSORFLOW, backend, "validate", "--backend", backend,
            "--format", "json", str(SAMPLES / "merged_frozen_tfkeras.h5"),
            str(SAMPLES / "merged_frozen.keras"),
        )
        assert run.returncode == 3, run.stderr
        (line,) = run.stderr.strip().splitlines()
        assert "--backend tensorflow" in line
        sections = {Path(e["path"]).name: e["validation"] for e in json.loads(run.stdout)["models"]}
        assert sections["merged_frozen.keras"]["status"] == "agree"
        assert sections["merged_frozen.keras"]["keras"]["backend"] == backend


    def test_keras_backend_variable_leaves_tf_keras_on_tensorflow(self, backend: str) -> None:
        """KERAS_BACKEND, no --backend: Keras 3 files run on it, tf_keras files on TensorFlow."""
        if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec(
            "tf_keras"
        ) is None:
            pytest.skip("TensorFlow and tf_keras are not both installed here")
        run = run_python(
            RUN_CLI_BESIDE_TENSORFLOW, backend, "validate", "--device", "cpu", "--format", "json",
            str(SAMPLES / "merged_frozen_tfkeras.h5"), str(SAMPLES / "merged_frozen.keras"),
        )
        assert run.returncode == 0, run.stderr[-3000:]
        sections = {Path(e["path"]).name: e["validation"] for e in json.loads(run.stdout)["models"]}
        legacy, current = sections["merged_frozen_tfkeras.h5"], sections["merged_frozen.keras"]
        assert (legacy["keras"]["package"], legacy["keras"]["backend"]) == ("tf_keras", "tensorflow")
        assert legacy["profile"]["name"] == "keras2"
        assert (current["keras"]["package"], current["keras"]["backend"]) == ("keras", backend)
        assert legacy["status"] == current["status"] == "agree"


class TestWithoutTensorFlow:
    def test_tf_keras_file(self, backend: str) -> None:
        """A Keras 2 file only tf_keras loads: one line naming tf_keras, exit 4, no traceback."""
        run = validate(backend, str(SAMPLES / "merged_frozen_tfkeras.h5"))
        assert run.returncode == 4, run.stderr
        (line,) = run.stderr.strip().splitlines()
        assert "tf_keras" in line
        assert "TensorFlow" in line

    def test_keras_backend_variable_without_flag(self, backend: str) -> None:
        """No --backend: KERAS_BACKEND chooses, as it does for Keras itself."""
        run = run_python(
            RUN_CLI, backend, "validate", "--device", "cpu", "--format", "json",
            str(SAMPLES / "inverted_dropout.keras"),
        )
        assert run.returncode == 0, run.stderr[-3000:]
        (entry,) = json.loads(run.stdout)["models"]
        assert entry["validation"]["keras"]["backend"] == backend
        assert entry["validation"]["status"] == "agree"

    def test_no_backend_flag(self, backend: str) -> None:
        """Neither --backend nor KERAS_BACKEND: the error names the installed backend."""
        run = run_python(RUN_CLI, None, "validate", str(SAMPLES / "inverted_dropout.keras"))
        assert run.returncode == 4, run.stderr
        (line,) = run.stderr.strip().splitlines()
        assert f"--backend {backend}" in line


@pytest.fixture(scope="module")
def gpu_run(backend: str) -> subprocess.CompletedProcess[str]:
    """``validate --device gpu`` of one sample: a GPU run, or exit 4 where none is seen."""
    return validate(
        backend, "--device", "gpu", "--format", "json", str(SAMPLES / "inverted_dropout.keras")
    )


class TestDevice:
    def test_gpu_or_clear_error(self, gpu_run: subprocess.CompletedProcess[str]) -> None:
        """--device gpu runs on the GPU where the backend sees one, else one line and exit 4."""
        if gpu_run.returncode == 4:
            (line,) = gpu_run.stderr.strip().splitlines()
            assert "--device gpu" in line
            assert "GPU" in line
            return
        assert gpu_run.returncode == 0, gpu_run.stderr
        (entry,) = json.loads(gpu_run.stdout)["models"]
        assert not entry["validation"]["keras"]["device"].lower().startswith("cpu")

    def test_auto(self, backend: str, gpu_run: subprocess.CompletedProcess[str]) -> None:
        """--device auto reports where it ran: the CPU exactly when --device gpu finds no GPU."""
        run = validate(backend, "--format", "json", str(SAMPLES / "inverted_dropout.keras"))
        assert run.returncode == 0, run.stderr
        (entry,) = json.loads(run.stdout)["models"]
        on_cpu = entry["validation"]["keras"]["device"].lower().startswith("cpu")
        assert on_cpu == (gpu_run.returncode == 4)


class TestRebuildOnBackend:
    @pytest.mark.skipif(importlib.util.find_spec("keras_hub") is None, reason="needs keras_hub")
    def test_kerashub_sample_rebuilds_with_the_same_answers(self, backend: str) -> None:
        """check --rebuild of the KerasHub sample on `backend`, without TensorFlow: the
        same stochastic calls and sublayers as on TensorFlow, and no layer taken for one
        drawing random numbers (JAX cannot compare a symbolic sequence length with
        PositionEmbedding's maximum; the probe retries with known dimensions)."""
        from graphcheck import analyse

        sample = SAMPLES / "rebuild" / "bert_frozen_classifier.keras"
        run = run_python(RUN_CLI, backend, "check", "--rebuild", "--format", "json", str(sample))
        assert run.returncode == 0, run.stderr[-3000:]
        (entry,) = json.loads(run.stdout)["models"]
        here = analyse(str(sample), rebuild=True)  # this interpreter's backend
        for key in ("stochastic", "inner_stochastic"):
            assert [(s["path"], s["active"]) for s in entry[key]] == [
                (s["path"], s["active"]) for s in here[key]
            ], key
        assert not [s for s in entry["inner_stochastic"] if s["own_random"]]
