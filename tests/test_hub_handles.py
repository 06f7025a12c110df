"""Hub handles (hf://, kaggle://) resolved offline against caches written in each
library's own layout.

No test reaches the network: every socket connection fails the test (``NetworkUsed``
is no ``Exception``, so neither library nor graphcheck can swallow it), and the
"no network" tests refuse connections instead, as a machine without one does.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from graphcheck import hub_handles
from graphcheck.cli import main
from graphcheck.errors import MissingDependencyError
from graphcheck.hub_handles import (
    HubError,
    fetch_preset,
    fetches_kept,
    parse_handle,
    shard_names,
    wanted,
)

huggingface_hub = pytest.importorskip("huggingface_hub")
hf_api = pytest.importorskip("huggingface_hub.hf_api")
hf_constants = pytest.importorskip("huggingface_hub.constants")
kagglehub = pytest.importorskip("kagglehub")
pytest.importorskip("kagglehub.clients")

COMMIT = "0123456789abcdef0123456789abcdef01234567"
CONFIG = {"module": "keras_hub.src.models.bert.bert_backbone", "class_name": "BertBackbone",
          "config": {"name": "bert_backbone"}, "registered_name": "keras_hub>BertBackbone"}
# A preset as task.save_to_preset writes it, weights included.
PRESET: dict[str, str | bytes] = {
    "config.json": json.dumps(CONFIG),
    "metadata.json": json.dumps({"keras_version": "3.15.1", "keras_hub_version": "0.32.0"}),
    "task.json": json.dumps({"class_name": "BertTextClassifier", "registered_name": "x"}),
    "preprocessor.json": "{}",
    "tokenizer.json": "{}",
    "assets/tokenizer/vocabulary.txt": "[PAD]\n[UNK]\n",
    "model.weights.h5": b"\x89HDF\r\n\x1a\n",
    "task.weights.h5": b"\x89HDF\r\n\x1a\n",
    "README.md": "# a model card\n",
}
WEIGHTS = {"model.weights.h5", "task.weights.h5"}
ANALYSED = set(PRESET) - WEIGHTS - {"README.md"}


class NetworkUsed(BaseException):
    """A socket connection was attempted."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail the test on any connection or name lookup; the list records them."""
    attempts: list[Any] = []

    def forbid(*args: Any, **_: Any) -> Any:
        attempts.append(args)
        raise NetworkUsed(f"network used: {args[1:2]}")

    monkeypatch.setattr(socket.socket, "connect", forbid)
    monkeypatch.setattr(socket.socket, "connect_ex", forbid)
    monkeypatch.setattr(socket, "getaddrinfo", forbid)
    return attempts


@pytest.fixture
def refused(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """No network, as on a machine without one: every connection is refused."""
    attempts: list[Any] = []

    def refuse(*args: Any, **_: Any) -> Any:
        attempts.append(args)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def write_hf_cache(hub_cache: Path, repo_id: str, files: dict[str, str | bytes],
                   commit: str = COMMIT) -> Path:
    """huggingface_hub's cache: models--OWNER--NAME/{blobs, refs/main, snapshots/<commit>}."""
    repo = hub_cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "blobs").mkdir(exist_ok=True)
    snapshot = repo / "snapshots" / commit
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../" * (len(Path(name).parts) + 1), "blobs", blob.name))
    return snapshot


def write_kaggle_cache(cache: Path, handle: str, files: dict[str, str | bytes]) -> Path:
    """kagglehub's cache: models/OWNER/MODEL/FRAMEWORK/VARIATION/VERSION/<files>, and a
    completion marker per file in VARIATION/.complete/VERSION/<file>.complete."""
    owner, model, framework, variation, version = handle.split("/")
    variation_dir = cache / "models" / owner / model / framework / variation
    for name, content in files.items():
        target = variation_dir / version / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        marker = variation_dir / ".complete" / version / f"{name}.complete"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    return variation_dir / version


@pytest.fixture
def hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An offline huggingface_hub with its cache under tmp_path (it reads both at import)."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    # huggingface_hub 2.x names AI-agent callers in its user agent from a registry it
    # fetches from the Hub once per process (cached for a day): online tests would
    # reach the network, or not, depending on which test of the process ran first.
    try:
        detect_agent = importlib.import_module("huggingface_hub.utils._detect_agent")
    except ImportError:
        pass
    else:
        monkeypatch.setattr(detect_agent, "_registry", {"standardEnvVars": [], "harnesses": {}})
    return tmp_path / "hf" / "hub"


@pytest.fixture
def kaggle_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kaggle"))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-credentials"))
    # kagglehub names its callers in its user agent by walking the whole call stack
    # (inspect.stack) for every file: about 0.3 s each under pytest's deep stack.
    monkeypatch.setattr(kagglehub.clients, "get_user_agent", lambda: "graphcheck-tests")
    return tmp_path / "kaggle"


def without_weights() -> dict[str, str | bytes]:
    return {k: v for k, v in PRESET.items() if k not in WEIGHTS}


class TestParse:
    @pytest.mark.parametrize("text", [
        "hf://keras/bert_tiny_en_uncased", "HF://keras/bert_tiny_en_uncased",
        "kaggle://keras/bert/keras/bert_tiny_en_uncased",
        "kaggle://keras/bert/keras/bert_tiny_en_uncased/3",
    ])
    def test_handles_from_preset_takes(self, text: str) -> None:
        handle = parse_handle(text)
        assert hub_handles.is_handle(text)
        assert handle.text == text
        assert handle.scheme in ("hf", "kaggle")

    @pytest.mark.parametrize("text", [
        "hf://keras", "hf://keras/bert/extra", "hf://keras/", "kaggle://keras/bert/keras",
        "kaggle://keras/bert/keras/tiny/latest", "kaggle://keras/bert/keras/tiny/1/2",
        "kaggle://keras//keras/tiny", "kaggle://../../keras/x/1", "hf://../..", "hf://./x",
        "hf://keras/..", "hf://keras\\x/bert", "kaggle://keras/bert/keras/../1",
    ])
    def test_malformed_handles_are_one_line_errors(self, text: str) -> None:
        with pytest.raises(HubError) as caught:
            parse_handle(text)
        assert caught.value.exit_code == 3
        assert str(caught.value).startswith(f"{text}: ") and "\n" not in str(caught.value)

    @pytest.mark.parametrize("text", ["model.keras", "gs://bucket/preset", "./hf:/x", None, 3])
    def test_other_arguments_are_no_handles(self, text: object) -> None:
        assert not hub_handles.is_handle(text)


class TestWhatIsFetched:
    def test_configs_and_assets_always_weights_only_when_asked(self) -> None:
        for name in ANALYSED:
            assert wanted(name)
        for name in WEIGHTS:
            assert not wanted(name)
            assert wanted(name, weights=True)
        assert not wanted("README.md", weights=True)
        assert not wanted("model.safetensors", weights=True)
        assert not wanted("model_00000.weights.h5", weights=True)
        assert wanted("model_00000.weights.h5", weights=True, shards=["model_00000.weights.h5"])
        assert not wanted("model_00000.weights.h5", shards=["model_00000.weights.h5"])

    @pytest.mark.parametrize("name", [
        "assets/../../../../home/x/.bashrc", "assets/./x", "assets//x", "/etc/passwd",
        "assets/..\\x", "assets/tokenizer/..", "../config.json",
    ])
    def test_names_that_could_leave_the_preset_never_are(self, name: str) -> None:
        assert not wanted(name, weights=True, shards=[name])

    def test_shards_are_the_plain_names_of_the_weight_map(self, tmp_path: Path) -> None:
        (tmp_path / "model.weights.json").write_text(json.dumps({"weight_map": {
            "a": "model_00000.weights.h5", "b": ["model_00001.weights.h5", "../x.weights.h5"],
            "c": "*.weights.h5", "d": 3,
        }}))
        assert shard_names(tmp_path) == ("model_00000.weights.h5", "model_00001.weights.h5")
        (tmp_path / "model.weights.json").write_text("not json")
        assert shard_names(tmp_path) == ()


class TestHuggingFace:
    def test_offline_from_the_cache(self, hf_home: Path, no_network: list[Any]) -> None:
        snapshot = write_hf_cache(hf_home, "keras/bert_tiny", without_weights())
        fetched = fetch_preset("hf://keras/bert_tiny")
        assert fetched.handle == "hf://keras/bert_tiny"
        assert Path(fetched.directory) == snapshot
        assert set(fetched.files) == ANALYSED
        assert no_network == []

    def test_weights_in_the_cache_are_read_with_the_flag(self, hf_home: Path) -> None:
        write_hf_cache(hf_home, "keras/bert_tiny", PRESET)
        assert set(fetch_preset("hf://keras/bert_tiny", weights=True).files) == ANALYSED | WEIGHTS

    def test_not_cached_offline(self, hf_home: Path) -> None:
        with pytest.raises(HubError, match="not in the Hugging Face cache, and HF_HUB_OFFLINE"):
            fetch_preset("hf://keras/unknown")

    def test_weights_asked_offline_but_not_cached(self, hf_home: Path) -> None:
        write_hf_cache(hf_home, "keras/bert_tiny", without_weights())
        with pytest.raises(HubError, match="no weights file"):
            fetch_preset("hf://keras/bert_tiny", weights=True)

    @pytest.mark.parametrize(("files", "problem"), [
        ({"README.md": "x"}, "no config.json"),
        ({"config.json": json.dumps({"model_type": "bert"})}, "a Transformers config"),
        ({"config.json": "{"}, "config.json is not JSON"),
    ])
    def test_not_a_preset(self, hf_home: Path, files: dict[str, str | bytes],
                          problem: str) -> None:
        write_hf_cache(hf_home, "google/bert", files)
        with pytest.raises(HubError, match=problem):
            fetch_preset("hf://google/bert")

    def test_online_only_the_analysed_files_are_asked(
        self, hf_home: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[Any]
    ) -> None:
        """The Hub lists every file; the weights are missing from the cache, so asking
        for one would open a connection (NetworkUsed); without the flag none is asked."""
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        write_hf_cache(hf_home, "keras/bert_tiny", without_weights())
        listing = [
            hf_api.RepoFile(path=name, size=len(content), oid=f"{i:040x}")
            for i, (name, content) in enumerate(PRESET.items())
        ]

        class Info:
            sha = COMMIT

        monkeypatch.setattr(hf_api.HfApi, "repo_info", lambda *a, **k: Info())
        monkeypatch.setattr(hf_api.HfApi, "list_repo_tree", lambda *a, **k: listing)
        fetched = fetch_preset("hf://keras/bert_tiny")
        assert set(fetched.files) == ANALYSED
        assert no_network == []
        with pytest.raises(NetworkUsed):
            fetch_preset("hf://keras/bert_tiny", weights=True)

    def test_a_command_fetches_a_handle_once(
        self, hf_home: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Within fetches_kept (a command), the hub is asked once per handle, and the
        fetch with the weights serves the reader's; outside it, every call asks."""
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        write_hf_cache(hf_home, "keras/bert_tiny", PRESET)
        listing = [
            hf_api.RepoFile(path=name, size=len(content), oid=f"{i:040x}")
            for i, (name, content) in enumerate(PRESET.items())
        ]
        asked: list[str] = []

        class Info:
            sha = COMMIT

        def repo_info(*args: Any, **kwargs: Any) -> Info:
            asked.append("repo_info")
            return Info()

        monkeypatch.setattr(hf_api.HfApi, "repo_info", repo_info)
        monkeypatch.setattr(hf_api.HfApi, "list_repo_tree", lambda *a, **k: listing)
        with fetches_kept():
            first = fetch_preset("hf://keras/bert_tiny", weights=True)
            once = len(asked)  # the configs, then the weights: each asks for the revision
            assert once >= 1
            assert fetch_preset("hf://keras/bert_tiny") is first
            assert fetch_preset("hf://keras/bert_tiny", weights=True) is first
            assert len(asked) == once
        fetch_preset("hf://keras/bert_tiny")
        asked_by_one = len(asked) - once
        assert asked_by_one >= 1
        fetch_preset("hf://keras/bert_tiny")
        assert len(asked) == once + 2 * asked_by_one

    def test_no_network_falls_back_to_the_cache(
        self, hf_home: Path, monkeypatch: pytest.MonkeyPatch, refused: list[Any]
    ) -> None:
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        write_hf_cache(hf_home, "keras/bert_tiny", without_weights())
        assert set(fetch_preset("hf://keras/bert_tiny").files) == ANALYSED
        with pytest.raises(HubError, match="cannot reach the Hugging Face Hub"):
            fetch_preset("hf://keras/unknown")
        assert refused  # it did try


KAGGLE_PRESET = {name: PRESET[name] for name in (
    "config.json", "metadata.json", "assets/tokenizer/vocabulary.txt", "model.weights.h5",
    "README.md",
)}
KAGGLE_ANALYSED = {"config.json", "metadata.json", "assets/tokenizer/vocabulary.txt"}


class TestKaggle:
    HANDLE = "keras/bert/keras/bert_tiny_en_uncased/2"

    def test_versioned_handle_from_the_cache(
        self, kaggle_cache: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[Any]
    ) -> None:
        """Kaggle lists every file; the weights are not cached, so fetching them would
        open a connection (NetworkUsed); without the flag they are not asked for."""
        cached = {k: v for k, v in KAGGLE_PRESET.items() if k != "model.weights.h5"}
        version = write_kaggle_cache(kaggle_cache, self.HANDLE, cached)
        monkeypatch.setattr(hub_handles, "_kaggle_listing", lambda _handle: list(KAGGLE_PRESET))
        asked: list[str] = []
        download = kagglehub.model_download

        def recording(handle: str, path: str | None = None, **kwargs: Any) -> str:
            asked.append(path or "")
            return str(download(handle, path, **kwargs))

        monkeypatch.setattr(kagglehub, "model_download", recording)
        fetched = fetch_preset(f"kaggle://{self.HANDLE}")
        assert Path(fetched.directory) == version
        assert set(fetched.files) == set(asked) == KAGGLE_ANALYSED
        assert no_network == []
        with pytest.raises(NetworkUsed):
            fetch_preset(f"kaggle://{self.HANDLE}", weights=True)
        assert asked[-1] == "model.weights.h5"

    def test_a_listed_name_out_of_the_preset_is_one_line_error(
        self, kaggle_cache: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write_kaggle_cache(kaggle_cache, self.HANDLE, KAGGLE_PRESET)
        bad = "assets/../../../../home/x/.bashrc"
        monkeypatch.setattr(hub_handles, "_kaggle_listing", lambda _h: [*KAGGLE_PRESET, bad])
        with pytest.raises(HubError) as caught:
            fetch_preset(f"kaggle://{self.HANDLE}")
        assert caught.value.exit_code == 3 and "\n" not in str(caught.value)
        assert f"Kaggle lists the file {bad!r}" in str(caught.value)

    def test_no_network_serves_the_cached_version(
        self, kaggle_cache: Path, refused: list[Any]
    ) -> None:
        write_kaggle_cache(kaggle_cache, self.HANDLE, KAGGLE_PRESET)
        fetched = fetch_preset(f"kaggle://{self.HANDLE}", weights=True)
        assert set(fetched.files) == KAGGLE_ANALYSED | {"model.weights.h5"}
        assert refused  # it did try

    def test_no_network_and_no_version(self, kaggle_cache: Path, refused: list[Any]) -> None:
        write_kaggle_cache(kaggle_cache, self.HANDLE, KAGGLE_PRESET)
        with pytest.raises(HubError, match="cannot reach Kaggle to find the latest version"):
            fetch_preset("kaggle://keras/bert/keras/bert_tiny_en_uncased")
        with pytest.raises(HubError, match="not in the kagglehub cache"):
            fetch_preset("kaggle://keras/bert/keras/bert_tiny_en_uncased/3")


class TestCommandLine:
    def test_errors_are_one_line_exit_3(self, hf_home: Path, kaggle_cache: Path,
                                        refused: list[Any]) -> None:
        runner = CliRunner()
        for command in ("check", "export", "render", "diff", "validate"):
            args = {"export": ["-o", "g.json"], "render": ["-o", "g.dot"],
                    "diff": ["hf://keras/unknown"]}.get(command, [])
            result = runner.invoke(main, [command, "hf://keras/unknown", *args])
            assert result.exit_code == 3, (command, result.output)
            lines = result.stderr.strip().splitlines()
            assert lines == ["graphcheck: error: hf://keras/unknown: not in the Hugging Face "
                             "cache, and HF_HUB_OFFLINE is set"], command
        result = runner.invoke(main, ["kaggle://keras/bert"])
        assert result.exit_code == 3
        assert result.stderr.strip().startswith("graphcheck: error: kaggle://keras/bert: not a")

    def test_missing_library_is_exit_4_with_a_hint(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "kagglehub", None)
        with pytest.raises(MissingDependencyError, match=r"needs kagglehub \(install it: pip"):
            fetch_preset("kaggle://keras/bert/keras/tiny/1")
        result = CliRunner().invoke(main, ["check", "kaggle://keras/bert/keras/tiny/1"])
        assert result.exit_code == 4
        assert len(result.stderr.strip().splitlines()) == 1



@pytest.mark.parametrize("command", [["validate"], ["check", "--validate"]])
def test_validate_fetches_a_handle_with_its_weights_first(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate (and check --validate) fetch a handle's weights before anything reads it,
    so the reader's fetch is served from that one (one revision for configs and weights)."""
    from graphcheck.errors import ModelReadError
    from graphcheck.runtime import validate as runtime_validate

    asked: list[tuple[str, bool]] = []

    def fetch(text: str, *, weights: bool = False) -> Any:
        asked.append((text, weights))
        raise ModelReadError(text, "stopped here by the test")

    monkeypatch.setattr(hub_handles, "fetch_preset", fetch)
    monkeypatch.setattr(runtime_validate, "_validate",
                        lambda *a, **k: pytest.fail("validated without fetching first"))
    result = CliRunner().invoke(main, [*command, "hf://keras/bert_tiny"])
    assert result.exit_code == 3, result.output
    assert asked and asked[0] == ("hf://keras/bert_tiny", True), asked


def test_a_command_inside_a_command_keeps_the_outer_fetches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """fetches_kept nests (a command run from inside another): leaving the inner block
    does not forget what the outer one fetched."""
    fetched: list[str] = []

    def fetch(text: str, weights: bool) -> Any:
        fetched.append(text)
        return object()

    monkeypatch.setattr(hub_handles, "_fetch_preset", fetch)
    with fetches_kept():
        first = fetch_preset("hf://a/b")
        with fetches_kept():
            assert fetch_preset("hf://a/b") is first
        assert fetch_preset("hf://a/b") is first
    assert fetched == ["hf://a/b"]
