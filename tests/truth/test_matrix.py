"""The truth cases against other Keras builds: a nightly, early Keras 3s, an older tf.keras.

Each build lives in its own environment, made by ``scripts/matrix_envs.sh`` (run by
``scripts/setup.sh --test``); ``matrix_worker.py`` builds, saves, reloads and runs
every case there, in a subprocess, and sends back what each call did. Here the
same files are read by graphcheck under ``--keras-version`` of that build, and
every call must agree (``agreement.assert_agrees``). The build that ran must be
listed in ``graphcheck.semantics.PROVEN_BUILDS`` under the profile graphcheck picks
for it, so the table ``graphcheck profiles`` prints is what was run here.

Every build runs the explicit ``training=None`` cases (``EXPLICIT_NONE_BUILDERS``);
keras 3.9.2 and 3.10.0, the two sides of the boundary where an explicit None starts
to count as passed (keras-team/keras#21204), run only those.

Without an environment the tests skip, naming the missing directory; with
``CI`` set (as ``.ci/run`` does) they fail instead. The workers of all builds start together, the
first time any of them is needed, and run while pytest collects their answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from agreement import assert_agrees, model_entry
from builders import BUILDERS, EXPLICIT_NONE_BUILDERS, KERAS_VERSIONS
from saving import save_model

from graphcheck.semantics import PROVEN_BUILDS, profile_for_version

pytestmark = pytest.mark.truth

ROOT = Path(__file__).resolve().parents[2]
MATRIX_DIR = Path(os.environ.get("GRAPHCHECK_MATRIX_DIR", ROOT / ".matrix"))
WORKER = Path(__file__).with_name("matrix_worker.py")
#: Seconds one build's worker may take for all its cases.
WORKER_TIMEOUT = 480


@dataclass(frozen=True)
class Build:
    """One Keras build of the matrix and how to run Python with it."""

    key: str
    package: str
    flavour: str
    formats: tuple[str, ...]
    #: A virtual environment under MATRIX_DIR, or None for this interpreter.
    venv: str | None = None
    #: A ``pip install --target`` directory under MATRIX_DIR put first on PYTHONPATH.
    target: str | None = None
    #: Runs every builder and the --rebuild cases; otherwise the explicit-None ones only.
    full: bool = True

    @property
    def builders(self) -> list[str]:
        return [*BUILDERS, *EXPLICIT_NONE_BUILDERS] if self.full else list(EXPLICIT_NONE_BUILDERS)

    @property
    def home(self) -> Path:
        return MATRIX_DIR / (self.venv or self.target or "")

    @property
    def python(self) -> str:
        return str(self.home / "bin" / "python") if self.venv else sys.executable

    def environ(self) -> dict[str, str]:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        env.pop("PYTHONPATH", None)
        if self.target:
            env["PYTHONPATH"] = str(self.home)
        return env


BUILDS = {
    build.key: build
    for build in (
        Build("keras-nightly", "keras-nightly", "keras3", ("keras",), target="keras-nightly"),
        Build("keras-3.3", "keras", "keras3", ("keras",), venv="keras-3.3"),
        Build("keras-3.9", "keras", "keras3", ("keras",), target="keras-3.9", full=False),
        Build("keras-3.10", "keras", "keras3", ("keras",), target="keras-3.10", full=False),
        Build("tf-keras-2.15", "tf.keras", "tfkeras", ("h5",), venv="tf-keras-2.15"),
    )
}
#: Files saved here by the installed Keras 3 (3.0-3.15), then run by the nightly:
#: every builder as .keras, the flag-sensitive ones as .h5 too (the twins behave
#: the same; each case costs a second of CI).
UPGRADE_CASES = [(b, "keras") for b in BUILDERS] + [
    (b, "h5")
    for b in ("submodel_training_false", "mc_then_plain", "bn_after_dropout", "recurrent_dropout")
]
#: Files a build saved itself and cannot load back (a Keras bug, not ours): the test
#: checks the failure is still there, so that the case is compared once it loads.
KNOWN_LOAD_FAILURES = {
    ("keras-3.3", "shared_layer", "keras"): "Layer node index out of bounds",
}


def _absent(build: Build) -> str | None:
    marker = build.home / "bin" / "python" if build.venv else build.home / "keras"
    if marker.exists():
        return None
    return (
        f"{build.key}: no environment at {build.home} (scripts/setup.sh --test creates it; "
        "GRAPHCHECK_MATRIX_DIR moves it)"
    )


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; the version matrix must run in CI")
    pytest.skip(reason)


class _Worker:
    """One build's worker subprocess: started early, read once."""

    def __init__(self, build: Build, cases: list[str], directory: Path, key: str) -> None:
        # Named by worker, not build: the nightly runs two workers side by side.
        self.out = directory / f"{key}.json"
        self.log = directory / f"{key}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [build.python, str(WORKER), str(self.out), *cases],
                env=build.environ(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=directory,
            )
        self._result: dict[str, Any] | None = None

    def result(self) -> dict[str, Any]:
        if self._result is None:
            try:
                self.process.wait(timeout=WORKER_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
            if self.process.returncode != 0:
                tail = self.log.read_text()[-3000:]
                pytest.fail(f"worker failed ({self.process.returncode}):\n{tail}")
            self._result = json.loads(self.out.read_text())
        return self._result


#: The --rebuild case (a keras.Model subclass) each Keras 3 build runs with graphcheck.
REBUILD_CASE = "rebuild:keras3:subclassed:keras"
#: And a Functional holding a subclass whose call holds an MC-dropout subclass.
NESTED_REBUILD_CASE = "rebuild:keras3:nested:keras"
#: A live Functional whose layer without ``training`` follows one that leaves False in
#: the context: Keras 3.0-3.9 push fit()'s True only into calls that take it.
PUSH_CASE = "live:keras3:leaver_then_holder:keras"
#: The builds on each side of the Keras 3.10 change to ``operation_fn``.
PUSH_BUILDS = ("keras-3.9", "keras-3.10")


def _build_cases(build: Build) -> list[str]:
    cases = [f"build:{build.flavour}:{b}:{fmt}" for b in build.builders for fmt in build.formats]
    rebuilt = [REBUILD_CASE, NESTED_REBUILD_CASE]
    return (
        cases
        + (rebuilt if build.flavour == "keras3" and build.full else [])
        + ([PUSH_CASE] if build.key in PUSH_BUILDS else [])
    )


def _upgrade_cases(directory: Path) -> list[str]:
    """Save every builder with the installed Keras 3; cases for the nightly to load them."""
    cases = []
    for builder, fmt in UPGRADE_CASES:
        path = save_model(BUILDERS[builder]("keras3"), "keras3", fmt, directory)
        cases.append(f"load:keras3:{fmt}:{path}")
    return cases


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, _Worker]]:
    """Start every present build's worker at once; they run side by side."""
    directory = tmp_path_factory.mktemp("matrix")
    started: dict[str, _Worker] = {}
    for key, build in BUILDS.items():
        if _absent(build) is None:
            started[key] = _Worker(build, _build_cases(build), directory, key)
    nightly = BUILDS["keras-nightly"]
    if _absent(nightly) is None and "keras3" in KERAS_VERSIONS:
        saved = directory / "saved-by-installed"
        saved.mkdir()
        started["upgrade"] = _Worker(nightly, _upgrade_cases(saved), directory, "upgrade")
    yield started
    for worker in started.values():
        if worker.process.poll() is None:
            worker.process.kill()


def _worker(workers: dict[str, _Worker], build: Build, key: str | None = None) -> dict[str, Any]:
    reason = _absent(build)
    if reason:
        _skip_or_fail(reason)
    return workers[key or build.key].result()


def _running_version(build: Build, document: dict[str, Any]) -> str:
    return document["tf_keras"] if build.flavour == "tfkeras" else document["keras"]


def _check(
    document: dict[str, Any], case: str, keras_version: str, known_failure: str | None = None
) -> None:
    from graphcheck import analyse

    result = document["cases"][case]
    if known_failure is not None:
        assert known_failure in result.get("load_error", ""), "loads now: drop KNOWN_LOAD_FAILURES"
        return
    assert "load_error" not in result, f"Keras cannot load its own file: {result['load_error']}"
    entry = model_entry(analyse(result["path"], keras_version=keras_version))
    _assert_observed(entry, result["observed"])


def _assert_observed(entry: dict[str, Any], observed: dict[str, Any]) -> None:
    """graphcheck's report entry agrees with what a worker observed, call by call."""
    assert_agrees(
        entry,
        observed["active"],
        observed["bn_batch_stats"],
        observed["class_names"],
        observed["weights_changed"],
        observed["fit_error"],
    )


MATRIX_CASES = [
    pytest.param(key, builder, fmt, id=f"{key}-{builder}-{fmt}")
    for key, build in BUILDS.items()
    for builder in build.builders
    for fmt in build.formats
]
#: The Keras 3 builds that also run the --rebuild cases.
REBUILD_BUILDS = [k for k, b in BUILDS.items() if b.flavour == "keras3" and b.full]


@pytest.mark.parametrize(("key", "builder", "fmt"), MATRIX_CASES)
def test_build_agrees(workers: dict[str, _Worker], key: str, builder: str, fmt: str) -> None:
    """A file each build saved itself: graphcheck under its version agrees on every call."""
    build = BUILDS[key]
    document = _worker(workers, build)
    _check(
        document,
        f"build:{build.flavour}:{builder}:{fmt}",
        _running_version(build, document),
        KNOWN_LOAD_FAILURES.get((key, builder, fmt)),
    )


@pytest.mark.parametrize("key", REBUILD_BUILDS)
def test_rebuild_agrees_under_build(workers: dict[str, _Worker], key: str) -> None:
    """--rebuild run by this build (its own classes, value-less or ordinary variables)
    describes a keras.Model subclass that agrees with the build's real runs."""
    build = BUILDS[key]
    document = _worker(workers, build)
    result = document["cases"][REBUILD_CASE]
    entry = result["entry"]
    assert entry["source"] == f"rebuilt with keras {document['keras']}"
    assert {s["path"] for s in entry["stochastic"]} == {"encoder/enc_dropout", "head_dropout"}
    _assert_observed(entry, result["observed"])


@pytest.mark.parametrize("key", REBUILD_BUILDS)
def test_nested_subclass_rebuild_agrees_under_build(
    workers: dict[str, _Worker], key: str
) -> None:
    """--rebuild run by this build: a subclass nested twice in a Functional, whose
    MC dropout's True stays in the context for the calls after it, agrees with the
    build's real runs (Keras 3.3 pushes into calls that take ``training`` only;
    3.16 pushes nothing)."""
    build = BUILDS[key]
    document = _worker(workers, build)
    result = document["cases"][NESTED_REBUILD_CASE]
    entry = result["entry"]
    assert entry["source"] == f"rebuilt with keras {document['keras']}"
    assert "twice_nested/after_inner" in {s["path"] for s in entry["stochastic"]}
    _assert_observed(entry, result["observed"])


@pytest.mark.parametrize("key", PUSH_BUILDS)
def test_push_into_calls_without_training(workers: dict[str, _Worker], key: str) -> None:
    """A live model analysed and run by this build: a held Dropout behind a call that
    takes no ``training`` is off in fit() under 3.9 and on under 3.10, and graphcheck
    agrees with each."""
    document = _worker(workers, BUILDS[key])
    result = document["cases"][PUSH_CASE]
    (item,) = result["entry"]["inner_stochastic"]
    assert item["active"]["fit"] is (key == "keras-3.10")
    _assert_observed(result["entry"], result["observed"])


@pytest.mark.parametrize("key", list(BUILDS))
def test_build_is_a_proven_build(workers: dict[str, _Worker], key: str) -> None:
    """The version that ran is the one PROVEN_BUILDS names for its profile."""
    build = BUILDS[key]
    document = _worker(workers, build)
    version = _running_version(build, document)
    proven = PROVEN_BUILDS[profile_for_version(version).name]
    assert (build.package, version) in {(b.package, b.version) for b in proven}


@pytest.mark.parametrize(("builder", "fmt"), UPGRADE_CASES)
def test_installed_keras3_file_run_by_nightly(
    workers: dict[str, _Worker], builder: str, fmt: str
) -> None:
    """A file saved by Keras 3.0-3.15 and run by the nightly: its stored defaults now win."""
    if "keras3" not in KERAS_VERSIONS:
        pytest.skip("no Keras 3 installed to save the files")
    document = _worker(workers, BUILDS["keras-nightly"], "upgrade")
    (case,) = [c for c in document["cases"] if c.endswith(f"/{builder}.{fmt}")]
    _check(document, case, document["keras"])


def test_missing_environment_skips_here_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No environment: a skip naming the directory, or a failure when CI is set."""
    monkeypatch.setattr(sys.modules[__name__], "MATRIX_DIR", tmp_path)
    reason = _absent(BUILDS["keras-3.3"])
    assert reason is not None and str(tmp_path / "keras-3.3") in reason
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run in CI"):
        _skip_or_fail(reason)
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="no environment"):
        _skip_or_fail(reason)


def test_installed_nightly_is_the_running_keras() -> None:
    """With the nightly first on the path and no --keras-version, its profile is chosen.

    Its ``keras`` package shadows the release's, so the version comes from the
    distribution that owns the package ``import keras`` would load.
    """
    build = BUILDS["keras-nightly"]
    reason = _absent(build)
    if reason:
        _skip_or_fail(reason)
    env = build.environ()
    env["PYTHONPATH"] = os.pathsep.join((str(build.home), str(ROOT)))
    sample = ROOT / "samples" / "merged_frozen.keras"
    result = subprocess.run(
        [sys.executable, "-m", "graphcheck", "check", str(sample), "--format", "json"],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    profile = json.loads(result.stdout)["models"][0]["profile"]
    (proven,) = PROVEN_BUILDS["keras3-callsite"]
    assert (profile["name"], profile["keras_version"]) == ("keras3-callsite", proven.version)


def test_every_proven_build_is_run() -> None:
    """PROVEN_BUILDS lists exactly the installed Keras pair and the matrix builds.

    The installed pair runs in ``test_truth.py`` (its versions come from package
    metadata, so a new pin in scripts/constraints.txt must update the table); the
    others run here, each checked by ``test_build_is_a_proven_build``.
    """
    listed = {(b.package, b.version, b.test) for group in PROVEN_BUILDS.values() for b in group}
    installed = {
        ("keras", KERAS_VERSIONS.get("keras3"), "tests/truth/test_truth.py"),
        ("tf_keras", KERAS_VERSIONS.get("tfkeras"), "tests/truth/test_truth.py"),
    }
    assert {entry for entry in listed if entry[2].endswith("test_truth.py")} == installed
    matrix = {entry[0] for entry in listed if entry[2].endswith("test_matrix.py")}
    assert matrix == {build.package for build in BUILDS.values()}
