"""--rebuild: models whose config stores no layer graph, against real runs of the loaded file.

Each model is built tiny, saved as ``.keras``, analysed with ``rebuild=`` (the
config built by the installed Keras, no weights read), then loaded with
``keras.saving.load_model`` and observed in fit/predict/call, as in test_truth.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("keras_hub")

from hub_builders import HUB_BUILDERS, subclassed_model  # noqa: E402
from test_live import assert_matches_runtime  # noqa: E402

import keras  # noqa: E402

from graphcheck import analyse  # noqa: E402
from graphcheck.runtime.rebuild import RebuildOptions  # noqa: E402

pytestmark = pytest.mark.truth


@pytest.mark.parametrize("builder", sorted(HUB_BUILDERS))
def test_rebuilt_hub_model_matches_runtime(builder: str, tmp_path: Path) -> None:
    """A KerasHub model's rebuilt report agrees with the loaded model's real runs."""
    path = tmp_path / f"{builder}.keras"
    HUB_BUILDERS[builder]().save(path)
    entry = analyse(str(path), rebuild=True)
    assert entry["source"] == f"rebuilt with keras {keras.__version__}"
    assert entry["stochastic"], "every model here has dropout"
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


def test_subclassed_model_needs_trust_then_matches_runtime(tmp_path: Path) -> None:
    """A keras.Model subclass is refused without --trust-model, traced with it."""
    from graphcheck.errors import GraphcheckError

    path = tmp_path / "sub.keras"
    subclassed_model().save(path)
    with pytest.raises(GraphcheckError, match="--trust-model"):
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
        assert "GC101 bert_backbone/embeddings_dropout" in result.stdout

    def test_render_and_export_rebuild_write_their_files(self, tmp_path: Path) -> None:
        """render --rebuild and export --rebuild draw and write the rebuilt graph."""
        from click.testing import CliRunner

        from graphcheck.cli import main

        for command, name in (("render", "g.dot"), ("export", "g.json")):
            out = tmp_path / name
            result = CliRunner().invoke(main, [command, "--rebuild", str(self.SAMPLE), "-o", str(out)])
            assert result.exit_code == 0, result.output
            assert "embeddings_dropout" in out.read_text()
