"""--rebuild: models whose config stores no layer graph, against real runs of the loaded file.

Each model is built tiny, saved as ``.keras``, analysed with ``rebuild=`` (the
config built by the installed Keras, no weights read), then loaded with
``keras.saving.load_model`` and observed in fit/predict/call, as in test_truth.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("keras_hub")

import keras
from hub_builders import HUB_BUILDERS, subclassed_model
from test_live import assert_matches_runtime

from graphcheck import analyse, load
from graphcheck.api import findings
from graphcheck.runtime.rebuild import RebuildOptions

pytestmark = pytest.mark.truth


@pytest.mark.parametrize("builder", sorted(HUB_BUILDERS))
def test_rebuilt_hub_model_matches_runtime(builder: str, tmp_path: Path) -> None:
    """A KerasHub model's rebuilt report agrees with the loaded model's real runs."""
    path = tmp_path / f"{builder}.keras"
    HUB_BUILDERS[builder]().save(path)
    entry = analyse(str(path), rebuild=True)
    assert entry["source"] == f"rebuilt with keras {keras.__version__}"
    assert entry["stochastic"], "every model here has dropout"
    # Loaded as a fresh process loads it: sublayers made without a name ("dropout")
    # are numbered from empty counters, as the rebuild numbers them.
    keras.backend.clear_session()
    assert_matches_runtime(entry, keras.saving.load_model(path, compile=False))


def test_frozen_bert_backbone_dropout_fires_in_fit(tmp_path: Path) -> None:
    """The issue's question: dropout inside a frozen BertBackbone is still active in fit()."""
    from hub_builders import bert_classifier_frozen

    path = tmp_path / "bert.keras"
    bert_classifier_frozen().save(path)
    entry = analyse(str(path), rebuild=True)
    inside = [s for s in entry["stochastic"] if s["frozen_by"] == "bert_backbone"]
    assert inside and all(s["active"]["fit"] and not s["active"]["predict"] for s in inside)
    backbone_layers = [layer for layer in entry["layers"] if layer["path"].startswith("bert_backbone/")]
    assert all(layer["will_train"] is not True for layer in backbone_layers if layer["has_weights"])


def test_rebuild_reads_no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--rebuild opens only the archive's config.json and metadata.json: never the
    weights member, never h5py, never keras.saving.load_model."""
    import zipfile

    import h5py
    from hub_builders import bert_classifier_frozen

    path = tmp_path / "bert.keras"
    bert_classifier_frozen().save(path)
    members: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy_open(self: zipfile.ZipFile, name: object, *args: object, **kwargs: object) -> object:
        members.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("--rebuild must not read weights")

    monkeypatch.setattr(zipfile.ZipFile, "open", spy_open)
    monkeypatch.setattr(h5py, "File", refuse)
    monkeypatch.setattr(keras.saving, "load_model", refuse)
    entry = analyse(str(path), rebuild=True)
    assert entry["source"] == f"rebuilt with keras {keras.__version__}"
    assert set(members) == {"config.json", "metadata.json"}
    assert "model.weights.h5" in zipfile.ZipFile(path).namelist()


def test_subclassed_model_needs_trust_then_matches_runtime(tmp_path: Path) -> None:
    """A keras.Model subclass is refused without trust_model (worded for Python), traced with it."""
    from graphcheck.errors import GraphcheckError

    path = tmp_path / "sub.keras"
    subclassed_model().save(path)
    with pytest.raises(GraphcheckError, match=r"RebuildOptions\(trust_model=True\)"):
        analyse(str(path), rebuild=True)
    entry = analyse(str(path), rebuild=RebuildOptions(trust_model=True))
    paths = {s["path"] for s in entry["stochastic"]}
    assert paths == {"encoder/enc_dropout", "head_dropout"}
    assert_matches_runtime(entry, keras.saving.load_model(path, compile=False))


def test_live_lora_counts_frozen_kernels_and_trainable_adapters() -> None:
    """Live enable_lora: kernels frozen, LoRA matrices train, as one real fit() step shows."""
    from hub_builders import bert_classifier_lora

    model = bert_classifier_lora()
    entry = analyse(model)
    encoders = [layer for layer in entry["layers"] if layer["class_name"] == "TransformerEncoder"]
    assert encoders
    for layer in encoders:
        counts = layer["weight_counts"]
        assert layer["trainable"] is False and layer["will_train"] is True
        assert counts["lora_rank"] == 2 and "kernel" in counts["frozen_names"]
        # query and value: lora_kernel_a, lora_kernel_b and the bias each
        assert counts["trainable"] == 6
    embedding = next(layer for layer in entry["layers"] if layer["name"] == "token_embedding")
    assert embedding["will_train"] is False and embedding["weight_counts"]["trainable"] == 0
    assert_matches_runtime(entry, model)


def test_saved_lora_is_not_in_the_file(tmp_path: Path) -> None:
    """A .keras file does not keep enable_lora: rebuilt, every backbone layer trains again."""
    from hub_builders import bert_classifier_lora

    path = tmp_path / "lora.keras"
    bert_classifier_lora().save(path)
    entry = analyse(str(path), rebuild=True)
    weighted = [layer for layer in entry["layers"] if layer["has_weights"]]
    assert all(layer["will_train"] and layer["weight_counts"]["lora_rank"] is None for layer in weighted)


@pytest.mark.parametrize("builder", sorted(HUB_BUILDERS))
def test_live_hub_model_matches_runtime(builder: str) -> None:
    """The same KerasHub models analysed live, in memory, against real runs of the object."""
    model = HUB_BUILDERS[builder]()
    entry = analyse(model)
    assert entry["format"] == "live"
    assert_matches_runtime(entry, model)


def test_live_subclassed_model_is_traced() -> None:
    """A live keras.Model subclass: its call is traced symbolically; answers match real runs."""
    model = subclassed_model()
    entry = analyse(model)
    assert {s["path"] for s in entry["stochastic"]} == {"encoder/enc_dropout", "head_dropout"}
    assert_matches_runtime(entry, model)


class TestRebuildCli:
    SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "rebuild" / "bert_frozen_classifier.keras"

    def test_check_rebuild_reports_the_frozen_backbone(self) -> None:
        """check --rebuild on the KerasHub sample: exit 0, source named, backbone dropout found."""
        from click.testing import CliRunner

        from graphcheck.cli import main

        result = CliRunner().invoke(main, ["check", "--rebuild", str(self.SAMPLE)])
        assert result.exit_code == 0, result.output
        assert f"graph rebuilt with keras {keras.__version__}" in result.stdout
        words = " ".join(result.stdout.split())  # the report wraps to the terminal's width
        assert "warning GC101" in words and "--> bert_backbone/embeddings_dropout" in words

    def test_rebuild_json_matches_the_published_schema(self) -> None:
        """check --rebuild --format json (source, weight_counts, inner_stochastic) fits the schema."""
        import json

        jsonschema = pytest.importorskip("jsonschema")
        from click.testing import CliRunner

        from graphcheck.cli import main

        schema_path = Path(__file__).resolve().parents[2] / "docs" / "report.schema.json"
        result = CliRunner().invoke(main, ["check", "--rebuild", "--format", "json", str(self.SAMPLE)])
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        jsonschema.validate(document, json.loads(schema_path.read_text()))
        (entry,) = document["models"]
        assert entry["source"].startswith("rebuilt with keras ") and entry["inner_stochastic"]

    def test_render_and_export_rebuild_write_their_files(self, tmp_path: Path) -> None:
        """render --rebuild and export --rebuild draw and write the rebuilt graph."""
        from click.testing import CliRunner

        from graphcheck.cli import main

        for command, name in (("render", "g.dot"), ("export", "g.json")):
            out = tmp_path / name
            result = CliRunner().invoke(main, [command, "--rebuild", str(self.SAMPLE), "-o", str(out)])
            assert result.exit_code == 0, result.output
            assert "embeddings_dropout" in out.read_text()

    def test_export_says_where_the_graph_came_from_and_counts_sublayers(
        self, tmp_path: Path
    ) -> None:
        """The exported graph has its source, and each TransformerEncoder call the number
        of stochastic sublayers it holds and how many are active per scenario."""
        import networkx as nx
        from click.testing import CliRunner

        from graphcheck.cli import main

        out = tmp_path / "g.graphml"
        result = CliRunner().invoke(main, ["export", "--rebuild", str(self.SAMPLE), "-o", str(out)])
        assert result.exit_code == 0, result.output
        graph = nx.read_graphml(out)
        assert graph.graph["source"] == f"rebuilt with keras {keras.__version__}"
        entry = analyse(str(self.SAMPLE), rebuild=True)
        held: dict[str, int] = {}
        for inner in entry["inner_stochastic"]:
            held[inner["holder"]] = held.get(inner["holder"], 0) + 1
        assert held, "the sample's encoders hold dropouts"
        for node, data in graph.nodes(data=True):
            assert data["stochastic_sublayers"] == held.get(node, 0), node
            assert data["sublayers_active_fit"] == held.get(node, 0), node
            assert data["sublayers_active_predict"] == 0, node


def _sublayer(model: object, path: str) -> object:
    """The object at a report path: model layers by name, then sublayers by name."""
    current = model
    for name in path.split("/"):
        name = name.split("@")[0]
        found = getattr(current, "_layers", None)
        if found is None:  # tf_keras
            found = getattr(current, "_self_tracked_trackables", [])
        children = {child.name: child for child in found if hasattr(child, "name")}
        current = children[name]
    return current


def observe_inner(model: object, paths: list[str]) -> dict[str, dict[str, set[bool]]]:
    """The training value each named sublayer's call received, per scenario, in real runs."""
    from graphcheck.runtime import synthesise_inputs, synthesise_targets

    seen: dict[str, dict[str, set[bool]]] = {p: {} for p in paths}
    scenario = {"now": ""}
    for path in paths:
        layer = _sublayer(model, path)
        original = layer.call

        def spy(*args: object, _original=original, _path=path, **kwargs: object) -> object:
            seen[_path].setdefault(scenario["now"], set()).add(bool(kwargs.get("training")))
            return _original(*args, **kwargs)

        layer.call = spy
    inputs = synthesise_inputs(model)
    targets = synthesise_targets(model, inputs)
    model.compile(optimizer="sgd", loss="mse", metrics=[], weighted_metrics=[], run_eagerly=True)
    x, y = (inputs[0], targets[0]) if isinstance(inputs, list) and len(inputs) == 1 else (inputs, targets[0])
    for name, run in (("fit", lambda: model.fit(x, y, epochs=1, verbose=0)),
                      ("predict", lambda: model.predict(x, verbose=0)),
                      ("call", lambda: model(x))):
        scenario["now"] = name
        run()
    return seen


@pytest.mark.parametrize("builder", ["bert_classifier_frozen", "gpt2_causal_lm"])
def test_inner_dropouts_act_as_their_holders_call(builder: str) -> None:
    """TransformerEncoder/Decoder dropouts, reported below their holder, fire as observed."""
    model = HUB_BUILDERS[builder]()
    entry = analyse(model)
    inner = entry["inner_stochastic"]
    assert len(inner) >= 4, "attention and feed-forward dropouts of every block"
    seen = observe_inner(model, [item["path"] for item in inner])
    for item in inner:
        for scenario in ("fit", "predict", "call"):
            assert seen[item["path"]][scenario] == {item["active"][scenario]}, (item["path"], scenario)


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class NoisyBlock(keras.layers.Layer):
    """A custom layer holding a Dense and a Dropout, calling the Dropout without training=."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(8, name="inner_dense")
        self.drop = keras.layers.Dropout(0.3, name="inner_dropout")

    def call(self, x: object) -> object:
        return self.drop(self.dense(x))


def _noisy_block_class(K: object) -> type:
    """NoisyBlock for tf_keras: the same layer on tf_keras's Layer."""

    class TfNoisyBlock(K.layers.Layer):  # type: ignore[attr-defined, name-defined, misc]
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)
            self.dense = K.layers.Dense(8, name="inner_dense")  # type: ignore[attr-defined]
            self.drop = K.layers.Dropout(0.3, name="inner_dropout")  # type: ignore[attr-defined]

        def call(self, x: object) -> object:
            return self.drop(self.dense(x))

    return TfNoisyBlock


@pytest.mark.parametrize("flavour", ["keras3", "tfkeras"])
def test_custom_layer_holding_a_dropout_inside_a_frozen_submodel(flavour: str) -> None:
    """A custom layer's Dropout is found, marked inside the frozen submodel, and fires in fit()."""
    if flavour == "keras3":
        K, block = keras, NoisyBlock
    else:
        K = pytest.importorskip("tf_keras")
        block = _noisy_block_class(K)
    K.backend.clear_session()
    inner_in = K.Input(shape=(8,), name="inner_in")
    sub = K.Model(inner_in, block(name="noisy")(inner_in), name="frozen_sub")
    sub.trainable = False
    x_in = K.Input(shape=(8,), name="x")
    model = K.Model(x_in, K.layers.Dense(1, name="head")(sub(x_in)), name="custom_holder")
    entry = analyse(model)
    (item,) = entry["inner_stochastic"]
    assert item["path"] == "frozen_sub/noisy/inner_dropout"
    assert item["frozen_by"] == "frozen_sub" and item["rate"] == 0.3
    seen = observe_inner(model, ["frozen_sub/noisy/inner_dropout"])
    for scenario in ("fit", "predict", "call"):
        assert seen[item["path"]][scenario] == {item["active"][scenario]}
    assert item["active"]["fit"] is True
    # The frozen submodel's only dropout is inside the custom layer: GC101 names it.
    gc101 = [f.path for f in findings(load(model).analyse()) if f.rule == "GC101"]
    assert gc101 == ["frozen_sub/noisy/inner_dropout"]



def test_validate_rebuild_agrees_with_the_real_run() -> None:
    """validate --rebuild loads the KerasHub sample (safe_mode) and every claim agrees."""
    import json

    from click.testing import CliRunner

    from graphcheck.cli import main

    result = CliRunner().invoke(
        main, ["validate", "--rebuild", "--format", "json", str(TestRebuildCli.SAMPLE)]
    )
    assert result.exit_code == 0, result.output
    (model,) = json.loads(result.stdout)["models"]
    validation = model["validation"]
    assert validation["status"] == "agree", validation
    assert validation["calls"], "the dropouts were observed"


SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.mark.parametrize(
    "name", ["merged_frozen.keras", "inverted_dropout.keras", "inverted_dropout.h5",
             "transfer_inception.h5", "transfer_inception_full.json"],
)
def test_rebuilt_graph_equals_the_stored_graph(name: str) -> None:
    """For a file that stores its graph, --rebuild gives the static reader's answers exactly."""
    path = str(SAMPLES / name)
    static, rebuilt = analyse(path), analyse(path, rebuild=True)

    def answers(entry: dict) -> tuple[dict, dict]:
        return (
            {s["path"]: s["active"] for s in entry["stochastic"]},
            {layer["path"]: (layer["frozen"], layer["will_train"]) for layer in entry["layers"]},
        )

    assert answers(rebuilt) == answers(static)
    assert rebuilt["source"].startswith("rebuilt with keras") and static["source"] == "stored config"


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class Dropout(keras.layers.Dropout):
    """Monte Carlo dropout: a user's Dropout subclass, named like Keras's, that drops
    in predict() too."""

    def call(self, inputs: object, training: object = None) -> object:
        return super().call(inputs, training=True)


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class McBlock(keras.layers.Layer):
    """A custom layer holding a user's Dropout subclass."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.drop = Dropout(0.5, name="mc_dropout")

    def call(self, x: object) -> object:
        return self.drop(x)


def test_user_dropout_subclass_inside_a_layer_is_not_taken_for_keras_dropout() -> None:
    """A sublayer of a user's class named like a Keras one is not read as Keras's
    Dropout (whose rules it breaks: this one drops in predict()); it is reported as
    a layer drawing random numbers in its own code, active where it really drops."""
    import numpy as np

    keras.backend.clear_session()
    x_in = keras.Input(shape=(64,), name="x")
    model = keras.Model(x_in, McBlock(name="mc")(x_in), name="mc_holder")
    entry = analyse(model)
    (item,) = entry["inner_stochastic"]
    assert (item["path"], item["kind"], item["own_random"]) == ("mc/mc_dropout", "own_random", True)
    assert item["active"] == {"fit": True, "predict": True, "call": True}
    out = model.predict(np.ones((2, 64), "float32"), verbose=0)
    assert (out == 0).any(), "the subclass really drops in predict()"
    assert [f.path for f in findings(load(model).analyse()) if f.rule == "GC103"] == ["mc/mc_dropout"]


def test_opened_hub_layers_are_not_unknown_classes(tmp_path: Path) -> None:
    """Built (live and --rebuild), a KerasHub TransformerEncoder's sublayers are walked:
    no GC301 for it, no "stochasticity unknown" line, and the dropouts reported below it
    are exactly the Dropout objects the real layer holds. A user's class stays GC301."""
    from graphcheck.reporters.analysis_text import model_text
    from hub_builders import bert_classifier_frozen

    model = bert_classifier_frozen()
    path = tmp_path / "bert.keras"
    model.save(path)
    for analysis in (load(model).analyse(), load(str(path), rebuild=True).analyse()):
        assert not [f.path for f in findings(analysis) if f.rule in ("GC301", "GC303")]
        text = model_text(analysis)
        assert "stochasticity unknown" not in text
        assert "read from their sublayers" in text
        assert "transformer_layer_0 (TransformerEncoder)" in text
        for holder in ("bert_backbone/transformer_layer_0", "bert_backbone/transformer_layer_1"):
            real = _sublayer(model, holder)
            subs = list(real._flatten_layers(include_self=False))
            in_attention = {
                id(d) for mha in subs if isinstance(mha, keras.layers.MultiHeadAttention)
                for d in mha._flatten_layers(include_self=False)
            }
            dropouts = {
                sub.name for sub in subs
                if type(sub) is keras.layers.Dropout and id(sub) not in in_attention
            }
            reported = {i.path.rsplit("/", 1)[-1] for i in analysis.inner_stochastic
                        if i.holder == holder and i.class_name == "Dropout"}
            assert dropouts and reported == dropouts
    keras.backend.clear_session()
    x_in = keras.Input(shape=(8,), name="x")
    custom = keras.Model(x_in, NoisyBlock(name="noisy")(x_in), name="holder")
    gc301 = [f.path for f in findings(load(custom).analyse()) if f.rule == "GC301"]
    assert gc301 == ["noisy"]


def test_sublayer_own_trainable_false_is_frozen_by_layer() -> None:
    """A Dropout with its own trainable=False inside a trainable holder: inside_frozen,
    frozen_by_kind "layer" and GC101, as for a top-level layer; it fires in fit()."""
    keras.backend.clear_session()
    x_in = keras.Input(shape=(8,), name="x")
    block = NoisyBlock(name="noisy")
    model = keras.Model(x_in, keras.layers.Dense(1, name="head")(block(x_in)), name="own_flag")
    block.drop.trainable = False
    assert block.trainable and not block.drop.trainable, "Keras keeps the sublayer's own flag"
    entry = analyse(model)
    (item,) = entry["inner_stochastic"]
    assert item["path"] == "noisy/inner_dropout"
    assert item["inside_frozen"] and item["frozen_by_kind"] == "layer"
    assert item["frozen_by"] == "noisy/inner_dropout"
    seen = observe_inner(model, [item["path"]])
    for scenario in ("fit", "predict", "call"):
        assert seen[item["path"]][scenario] == {item["active"][scenario]}
    assert item["active"]["fit"] is True
    gc101 = [f for f in findings(load(model).analyse()) if f.rule == "GC101"]
    assert [f.path for f in gc101] == ["noisy/inner_dropout"]
    assert "it is trainable=False itself" in gc101[0].message


def test_no_upgrade_warning_on_a_rebuilt_graph(tmp_path: Path) -> None:
    """A file saved by a newer Keras, rebuilt here: the graph is this Keras's own build,
    so GC105 (stored flags that behave differently under the saving Keras) says nothing."""
    import json
    import zipfile

    source = Path(__file__).resolve().parents[2] / "samples" / "rebuild" / "bert_frozen_classifier.keras"
    newer = tmp_path / "newer.keras"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(newer, "w") as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename == "metadata.json":
                data = json.dumps({**json.loads(data), "keras_version": "3.17.0"}).encode()
            new.writestr(item, data)
    analysis = load(str(newer), rebuild=True).analyse()
    assert analysis.saving_profile is not None and analysis.saving_profile.name == "keras3-callsite"
    assert not [f for f in findings(analysis) if f.rule == "GC105"]
