"""KerasHub presets (``save_to_preset``) against the same model's ``.keras`` and real runs.

Three tiny tasks are saved once per module both ways: a text classifier with a
frozen backbone and its preprocessor (tokenizer.json, preprocessor.json, assets/),
a causal LM with LoRA enabled, and a vision classifier. ``graphcheck --rebuild
PRESET/`` must give the answers of ``--rebuild MODEL.keras``, and those answers
must match what the preset does when KerasHub loads it (``from_preset``, weights
and all) and Keras runs it in fit/predict/call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("keras_hub")

import keras  # noqa: TID253 - the truth suite runs Keras
from test_live import assert_matches_runtime

from graphcheck import analyse

pytestmark = pytest.mark.truth

#: Entry fields that name the file, not the model.
_ORIGIN = ("path", "format", "source", "keras_hub_version")


def _hub() -> Any:
    import keras_hub

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    return keras_hub


def bert_frozen_with_preprocessor() -> Any:
    hub = _hub()
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"]
    preprocessor = hub.models.BertTextClassifierPreprocessor(
        hub.models.BertTokenizer(vocabulary=vocabulary), sequence_length=8
    )
    backbone = hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=8, dropout=0.1,
    )
    task = hub.models.BertTextClassifier(
        backbone, num_classes=2, preprocessor=preprocessor, dropout=0.2
    )
    backbone.trainable = False
    return task


def gpt2_lora() -> Any:
    hub = _hub()
    backbone = hub.models.GPT2Backbone(
        vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16,
        dropout=0.1, max_sequence_length=16,
    )
    task = hub.models.GPT2CausalLM(backbone, preprocessor=None)
    backbone.enable_lora(2)
    return task


def vit_classifier() -> Any:
    hub = _hub()
    backbone = hub.models.ViTBackbone(
        image_shape=(8, 8, 3), patch_size=4, num_layers=1, num_heads=2, hidden_dim=8,
        mlp_dim=16, dropout_rate=0.1, attention_dropout=0.1,
    )
    return hub.models.ViTImageClassifier(backbone, num_classes=2, dropout=0.2, preprocessor=None)


BUILDERS: dict[str, Callable[[], Any]] = {
    f.__name__: f for f in (bert_frozen_with_preprocessor, gpt2_lora, vit_classifier)
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Each model saved once as a preset folder (under ``presets/``) and as ``.keras``."""
    root = tmp_path_factory.mktemp("presets")
    found = {}
    for name, build in BUILDERS.items():
        task = build()
        preset = root / "presets" / name
        task.save_to_preset(str(preset))
        archive = root / f"{name}.keras"
        task.save(archive)
        found[name] = (preset, archive)
    return found


@pytest.fixture(scope="module")
def entries(saved: dict[str, tuple[Path, Path]]) -> dict[str, tuple[dict[str, Any], ...]]:
    """``analyse(..., rebuild=True)`` of each preset and of its ``.keras``, made once."""
    return {
        name: (analyse(str(preset), rebuild=True), analyse(str(archive), rebuild=True))
        for name, (preset, archive) in saved.items()
    }


def _load_preset(preset: Path) -> Any:
    """The preset as a user loads it: the task class task.json names, from_preset."""
    import json

    hub = _hub()
    named = json.loads((preset / "task.json").read_text())["registered_name"]
    model = keras.saving.get_registered_object(named).from_preset(str(preset))
    assert isinstance(model, hub.models.Task)
    model.preprocessor = None  # fed token ids and masks, as the observer synthesises them
    return model


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_rebuilt_preset_equals_keras_and_real_runs(
    name: str, saved: dict[str, tuple[Path, Path]], entries: dict[str, Any]
) -> None:
    """--rebuild PRESET/ gives the .keras file's answers, with the preset's own origin, and
    they agree with the preset loaded by KerasHub and run by Keras."""
    import keras_hub

    preset = saved[name][0]
    entry, reference = entries[name]
    assert entry["format"] == "preset" and entry["path"] == str(preset)
    assert entry["source"] == f"rebuilt with keras {keras.__version__} from the preset's task.json"
    assert entry["keras_version"] == keras.__version__
    assert entry["keras_hub_version"] == keras_hub.__version__
    assert entry["stochastic"], "every model here has dropout"
    assert {k: v for k, v in entry.items() if k not in _ORIGIN} == {
        k: v for k, v in reference.items() if k not in _ORIGIN
    }
    assert_matches_runtime(entry, _load_preset(preset))


def test_frozen_backbone_and_lost_lora_as_the_loaded_preset_has_them(
    saved: dict[str, tuple[Path, Path]], entries: dict[str, Any]
) -> None:
    """The frozen backbone's dropout is active in fit(); LoRA, which no preset keeps,
    is reported as KerasHub restores it: every GPT-2 kernel trains again."""
    bert = entries["bert_frozen_with_preprocessor"][0]
    inside = [s for s in bert["stochastic"] if s["frozen_by"] == "bert_backbone"]
    assert inside and all(s["active"]["fit"] and not s["active"]["predict"] for s in inside)
    gpt2 = entries["gpt2_lora"][0]
    weighted = [layer for layer in gpt2["layers"] if layer["has_weights"]]
    assert weighted and all(layer["weight_counts"]["lora_rank"] is None for layer in weighted)
    loaded = _load_preset(saved["gpt2_lora"][0])
    assert all(not getattr(layer, "lora_enabled", False) for layer in loaded._flatten_layers())


def test_cli_text_names_the_preset_and_its_versions(saved: dict[str, tuple[Path, Path]]) -> None:
    """check --rebuild PRESET/: one model, the text names the preset, Keras and KerasHub."""
    import keras_hub
    from click.testing import CliRunner

    from graphcheck.cli import main

    preset = saved["vit_classifier"][0]
    result = CliRunner().invoke(main, ["check", "--rebuild", str(preset)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{preset}\n")
    words = " ".join(result.stdout.split())  # the report wraps to the terminal's width
    assert (
        f"KerasHub preset, saved by Keras {keras.__version__} and KerasHub "
        f"{keras_hub.__version__}, graph rebuilt with keras {keras.__version__} from the "
        "preset's task.json" in words
    )
    assert "1 model analysed:" in words


def test_validate_rebuilds_a_preset_without_the_flag(saved: dict[str, tuple[Path, Path]]) -> None:
    """validate imports Keras anyway: a preset (as a .keras KerasHub task, by the same
    path) is rebuilt for its static side without --rebuild, the report says so, and its
    answers agree with the preset's real runs."""
    import json

    from click.testing import CliRunner

    from graphcheck.cli import main

    # The text classifier: loaded with its tokenizer's assets, run on token ids.
    preset = saved["bert_frozen_with_preprocessor"][0]
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(preset)])
    assert result.exit_code == 0, result.output
    (model,) = json.loads(result.stdout)["models"]
    validation = model["validation"]
    assert validation["status"] == "agree" and validation["calls"], validation
    assert validation["static_source"] == (
        f"rebuilt with keras {keras.__version__} from the preset's task.json (the config "
        "stores no layer graph: rebuilt without weights, no --rebuild needed)"
    )


def test_diff_of_a_preset_and_its_keras_file_is_empty(saved: dict[str, tuple[Path, Path]]) -> None:
    """diff --rebuild PRESET/ MODEL.keras: the same model saved two ways, no changes."""
    from click.testing import CliRunner

    from graphcheck.cli import main

    preset, archive = saved["bert_frozen_with_preprocessor"]
    result = CliRunner().invoke(
        main, ["diff", "--rebuild", "--exit-code", str(preset), str(archive)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "  no changes"
