"""Load-safety rules (GC302, GC4xx): each technique is found, nothing it names is touched.

Every sample (``load_safety_samples.py``) is checked by the CLI in a subprocess that
records every ``open`` and ``import`` through an audit hook. Paths the samples name
are FIFOs, so a native open (libhdf5 following a link) would block and the timeout
would fail the test. Files written by real Keras 3 and tf_keras, built-in layers
and op layers of every kind, raise none of these rules; and real Keras, in safe
mode, is shown to act on the shapes these samples have.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hostile_fixtures as hf
import load_safety_samples as samples

from graphcheck.readers.containers import zip_notes

# Runs graphcheck with an audit hook that logs every open and import to a file.
_AUDITED = """\
import atexit, os, sys
log_path = os.environ.pop("GRAPHCHECK_AUDIT_LOG")
events = []
def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        events.append(["open", os.fsdecode(args[0])])
    elif event == "import" and args:
        events.append(["import", str(args[0])])
sys.addaudithook(hook)
def dump():
    with open(log_path, "w") as handle:
        import json
        json.dump(events, handle)
atexit.register(dump)
sys.argv = ["graphcheck", *sys.argv[1:]]
import runpy
runpy.run_module("graphcheck", run_name="__main__")
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Path]]:
    directory = tmp_path_factory.mktemp("load-safety")
    secret = samples.secret_fifo(directory)
    evil = directory / "evil"
    evil.mkdir()
    (evil / f"{hf.EVIL_MODULE}.py").write_text(hf.EVIL_MODULE_SOURCE)
    return directory, evil, samples.all_samples(directory, secret)


def audited_check(
    path: Path, marker: Path, evil: Path, log: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = hf.cli_env(marker, evil)
    env["GRAPHCHECK_AUDIT_LOG"] = str(log)
    return subprocess.run(
        [hf.PYTHON, "-c", _AUDITED, "check", "--format", "json", *args, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=log.parent,
        stdin=subprocess.DEVNULL,
    )


CASES = sorted(f"{t}.{fmt}" for t, (_, formats) in samples.TECHNIQUES.items() for fmt in formats)


@pytest.mark.parametrize("case", CASES)
def test_technique_is_reported_and_nothing_named_is_touched(
    case: str, workspace: tuple[Path, Path, dict[str, Path]], tmp_path: Path
) -> None:
    directory, evil, files = workspace
    marker, log = tmp_path / "marker", tmp_path / "audit.json"
    result = audited_check(files[case], marker, evil, log)
    assert result.returncode == 1, (
        result.returncode,
        result.stderr[-2000:],
    )  # --fail-on error by default
    (model,) = json.loads(result.stdout)["models"]
    rule = samples.TECHNIQUES[case.rsplit(".", 1)[0]][0]
    found = [f for f in model["findings"] if f["rule"] == rule]
    assert found and all(f["severity"] == "error" for f in found), model["findings"]
    assert json.loads(result.stdout)["summary"]["failed"] is True
    assert not marker.exists() and not Path(f"{marker}.imported").exists()
    events = json.loads(log.read_text())
    opened = [name for kind, name in events if kind == "open"]
    imported = [name for kind, name in events if kind == "import"]
    assert not any(name.startswith(str(directory / "secret")) for name in opened), opened
    assert not any(name.startswith(str(evil)) for name in opened), opened
    assert hf.EVIL_MODULE not in imported
    assert not {"tensorflow", "keras", "tf_keras"} & set(imported)


def test_reference_is_worded_differently_from_stored_code(
    workspace: tuple[Path, Path, dict[str, Path]], tmp_path: Path
) -> None:
    """A Lambda that refers to keras.utils.get_file is named as a reference, module and function."""
    _, evil, files = workspace
    result = audited_check(
        files["get_file_reference.keras"], tmp_path / "m", evil, tmp_path / "log"
    )
    (model,) = json.loads(result.stdout)["models"]
    (message,) = [f["message"] for f in model["findings"] if f["rule"] == "GC403"]
    assert "keras.utils.get_file" in message and "a reference, no stored code" in message
    assert "CVE-2025-8747" in message
    code = [f["message"] for f in model["findings"] if f["rule"] == "GC302"]
    assert all("reference" not in m for m in code)


def test_timedistributed_lambda_is_in_code_layers(
    workspace: tuple[Path, Path, dict[str, Path]],
) -> None:
    _, _, files = workspace
    result = hf.run_cli("check", "--format", "json", files["timedistributed_lambda.keras"])
    (model,) = json.loads(result.stdout)["models"]
    assert {"path": "td", "class_name": "TimeDistributed"} in model["code_layers"], model[
        "code_layers"
    ]


def test_load_safety_group_runs_only_those_rules(
    workspace: tuple[Path, Path, dict[str, Path]],
) -> None:
    _, _, files = workspace
    result = hf.run_cli(
        "check",
        "--format",
        "json",
        "--select",
        "load-safety",
        hf.SAMPLES / "merged_frozen.keras",
        files["vocabulary_path.keras"],
    )
    document = json.loads(result.stdout)
    assert document["summary"]["rules"] == [
        "GC302", *(f"GC4{n:02d}" for n in range(1, 13)), "GC420", "GC421"
    ]
    assert result.returncode == 1


@pytest.mark.parametrize("fmt", ["text", "markdown", "github", "json", "sarif"])
def test_every_format_says_failed_when_the_exit_code_is_1(
    fmt: str, workspace: tuple[Path, Path, dict[str, Path]]
) -> None:
    _, _, files = workspace
    failing = hf.run_cli("check", "--format", fmt, files["absurd_units.keras"])
    passing = hf.run_cli("check", "--format", fmt, hf.SAMPLES / "merged_frozen.keras")
    assert (failing.returncode, passing.returncode) == (1, 0)
    if fmt == "json":
        assert json.loads(failing.stdout)["summary"]["failed"] is True
        assert json.loads(passing.stdout)["summary"]["failed"] is False
    elif fmt == "sarif":
        assert json.loads(failing.stdout)["runs"][0]["invocations"][0]["exitCode"] == 1
        assert json.loads(passing.stdout)["runs"][0]["invocations"][0]["exitCode"] == 0
    else:
        assert "failed" in failing.stdout and "passed" not in failing.stdout
        assert "passed" in passing.stdout and "failed" not in passing.stdout


# ---- no false positives on what Keras writes ----------------------------------------------


@pytest.fixture(scope="module")
def keras_written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Models of many built-in and op layers saved by Keras 3 and tf_keras, and what
    Keras 3 in safe mode did with each technique's shape (one TF subprocess)."""
    pytest.importorskip("tensorflow")
    directory = tmp_path_factory.mktemp("keras-written")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop(hf.MARKER_ENV, None)
    script = Path(__file__).with_name("load_safety_keras.py")
    subprocess.run(
        [hf.PYTHON, str(script), str(directory)],
        check=True,
        env=env,
        timeout=600,
        capture_output=True,
        cwd=directory,
    )
    return json.loads((directory / "results.json").read_text()) | {"dir": directory}


@pytest.mark.keras
def test_files_written_by_keras_raise_no_load_safety_finding(keras_written: dict[str, Any]) -> None:
    files = sorted(Path(p) for p in keras_written["files"])
    assert len(files) >= 6
    result = hf.run_cli(
        "check", "--format", "json", "--select", "load-safety", "--select", "GC301", *files
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    for model in json.loads(result.stdout)["models"]:
        assert model["findings"] == [], (model["path"], model["findings"])


@pytest.mark.keras
def test_keras_hub_layers_raise_no_load_safety_finding(keras_written: dict[str, Any]) -> None:
    """KerasHub layers (module keras_hub.*, registered keras_hub>...) are Keras's own."""
    files = keras_written["hub_files"]
    if not files:
        pytest.skip("keras-hub is not installed: no KerasHub-written files")
    result = hf.run_cli("check", "--format", "json", "--select", "load-safety", *files)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    for model in json.loads(result.stdout)["models"]:
        assert model["findings"] == [], (model["path"], model["findings"])


@pytest.mark.keras
def test_keras_hub_layers_are_not_unknown_classes_but_their_dropout_is_unknown(
    keras_written: dict[str, Any],
) -> None:
    """KerasHub layers written by Keras 3 (.keras, .h5, JSON): no GC301 "class
    graphcheck does not know", a GC303 note per call instead, and the report still
    counts them among the calls whose stochasticity is unknown."""
    files = keras_written["hub_files"]
    if not files:
        pytest.skip("keras-hub is not installed: no KerasHub-written files")
    result = hf.run_cli("check", "--format", "json", "--select", "GC301,GC303", *files)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    models = json.loads(result.stdout)["models"]
    assert len(models) == len(files) == 3
    for model in models:
        hub = {"TokenAndPositionEmbedding", "TransformerEncoder", "TransformerDecoder"}
        assert {f["rule"] for f in model["findings"]} == {"GC303"}, model["findings"]
        assert {f["message"].split(" is a KerasHub ")[1].split(":")[0]
                for f in model["findings"]} == hub
        assert {u["class_name"].rsplit(">", 1)[-1] for u in model["unknown_layers"]} == hub


@pytest.mark.parametrize(
    ("module", "registered", "rule"),
    [
        ("keras_hub.src.layers.modeling.transformer_encoder", "keras_hub>TransformerEncoder", "GC303"),
        ("keras_nlp.layers", None, "GC303"),
        ("evil.layers", "keras_hub>TransformerEncoder", "GC301"),
        ("keras_hub.src.layers", "evil>TransformerEncoder", "GC301"),
        (None, None, "GC301"),
    ],
)
def test_keras_hub_class_is_told_by_module_and_registered_name(
    tmp_path: Path, module: str | None, registered: str | None, rule: str
) -> None:
    """Only an entry whose module and registered name both (where stored) name a
    KerasHub package counts as KerasHub; anything else is an unknown class."""
    layer = hf.k3_layer("enc", "TransformerEncoder", ["x"], config={"name": "enc"},
                        module=module, registered_name=registered)
    config = hf.k3_functional("top", [hf.k3_input(), layer], ["x"], ["enc"])
    path = hf.write_json_model(tmp_path / "m.json", config, "3.15.1")
    result = hf.run_cli("check", "--format", "json", "--select", "GC301,GC303", path)
    (model,) = json.loads(result.stdout)["models"]
    assert [f["rule"] for f in model["findings"]] == [rule], model["findings"]


@pytest.mark.keras
def test_keras_acts_on_the_shapes(keras_written: dict[str, Any]) -> None:
    """Keras 3 in safe mode refuses each shape by name: these are what its loader acts on."""
    outcomes = keras_written["proofs"]
    assert "vocabulary file outside of the model archive" in outcomes["vocabulary_path"]
    assert "external Dataset" in outcomes["hdf5_external_storage"]
    assert "not a modeling function" in outcomes["get_file_reference"]
    assert "not a modeling function" in outcomes["unsafe_deserialization_reference"]
    assert "lambda" in outcomes["lambda_in_activation"].lower()
    assert "marker" not in outcomes  # nothing ran during the proofs
    for technique in (
        "vocabulary_path",
        "hdf5_external_storage",
        "get_file_reference",
        "unsafe_deserialization_reference",
        "lambda_in_activation",
    ):
        rule = samples.TECHNIQUES[technique][0]
        result = hf.run_cli(
            "check", "--format", "json", keras_written["dir"] / f"proof_{technique}.keras"
        )
        (model,) = json.loads(result.stdout)["models"]
        assert rule in {f["rule"] for f in model["findings"]}, (technique, model["findings"])


# ---- fuzz: container checks never raise ------------------------------------------------------


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=40),
            st.integers(0, 2**64 - 1),
            st.integers(0, 2**64 - 1),
            st.integers(0, 2**32 - 1),
            st.integers(0, 20),
        ),
        max_size=20,
    )
)
def test_zip_notes_never_raise(members: list[tuple[str, int, int, int, int]]) -> None:
    infos = []
    for name, size, packed, attr, system in members:
        info = zipfile.ZipInfo(name)
        info.file_size, info.compress_size, info.external_attr, info.create_system = (
            size,
            packed,
            attr,
            system,
        )
        infos.append(info)
    notes = zip_notes(infos)
    assert len(notes) <= 100 and all(isinstance(n.detail, str) for n in notes)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(sorted(CASES)), st.integers(0, 2**31), st.binary(min_size=1, max_size=8))
def test_mutated_container_samples_end_cleanly(
    workspace: tuple[Path, Path, dict[str, Path]],
    tmp_path_factory: pytest.TempPathFactory,
    case: str,
    offset: int,
    patch: bytes,
) -> None:
    """Byte-patched samples analyse or fail with one line; never a traceback or a hang."""
    _, _, files = workspace
    data = bytearray(files[case].read_bytes())
    position = offset % len(data)
    data[position : position + len(patch)] = patch
    target = tmp_path_factory.mktemp("mutant") / files[case].name
    target.write_bytes(bytes(data))
    message = hf.analyse_in_process(target)
    assert message is None or "\n" not in message


GRAPHLESS_CASES = sorted(f"{t}.{fmt}" for t in samples.GRAPHLESS for fmt in ("json", "h5", "keras"))


@pytest.mark.parametrize("case", GRAPHLESS_CASES)
def test_file_without_layer_graph_is_still_scanned(
    case: str, workspace: tuple[Path, Path, dict[str, Path]], tmp_path: Path
) -> None:
    """A subclassed model's file stays unreadable for the analysis (exit 3), but its
    config is scanned: the payload is reported beside the error, nothing it names
    is touched, and a clean one gets no finding."""
    directory, evil, _ = workspace
    secret = directory / "secret"
    path = samples.graphless_samples(tmp_path, secret)[case]
    marker, log = tmp_path / "marker", tmp_path / "audit.json"
    result = audited_check(path, marker, evil, log)
    assert result.returncode == 3, (result.returncode, result.stderr[-2000:])
    assert "no layer graph" in result.stderr
    document = json.loads(result.stdout)
    (error,) = document["errors"]
    rule = samples.GRAPHLESS[case.rsplit(".", 1)[0]]
    assert [f["rule"] for f in error["findings"]] == ([rule] if rule else [])
    assert document["summary"]["error"] == (1 if rule else 0)
    assert not marker.exists() and not Path(f"{marker}.imported").exists()
    opened = [name for kind, name in json.loads(log.read_text()) if kind == "open"]
    assert not any(name.startswith((str(secret), str(evil))) for name in opened), opened


@pytest.mark.keras
@pytest.mark.parametrize(("sample", "rule"), [("lambda", "GC401"), ("get_file", "GC403")])
@pytest.mark.parametrize("fmt", ["text", "markdown", "github", "json", "sarif"])
def test_payload_in_a_file_without_layer_graph_is_found(
    keras_written: dict[str, Any], sample: str, rule: str, fmt: str
) -> None:
    """A subclassed keras.Model stores no layer graph: the file stays unreadable
    (exit 3), but the load-safety rules still read its config, in every format."""
    path = keras_written["graphless"][sample]
    result = hf.run_cli("check", "--format", fmt, path)
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-2000:]
    assert "no layer graph" in result.stderr
    assert rule in result.stdout
    if fmt == "json":
        (error,) = json.loads(result.stdout)["errors"]
        assert [f["rule"] for f in error["findings"]] == [rule]


@pytest.mark.keras
@pytest.mark.parametrize("sample", ["clean", "hub_task"])
def test_clean_file_without_layer_graph_has_no_load_safety_finding(
    keras_written: dict[str, Any], sample: str
) -> None:
    if sample not in keras_written["graphless"]:
        pytest.skip("keras-hub is not installed: no KerasHub task file")
    result = hf.run_cli("check", "--format", "json", keras_written["graphless"][sample])
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-2000:]
    document = json.loads(result.stdout)
    (error,) = document["errors"]
    assert "no layer graph" in error["error"]
    assert error["findings"] == []
    assert document["summary"]["error"] == 0
