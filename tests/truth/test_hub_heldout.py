"""--rebuild on KerasHub families beyond the ones graphcheck was written against.

Each model is built tiny in the test (hub_heldout_builders.py), saved as ``.keras``,
rebuilt by graphcheck (no weights read) and compared with what the loaded file does
in fit(), predict() and model(x). The file is loaded after
``keras.backend.clear_session()``, as ``graphcheck validate`` loads it.

The families here are those that found a bug (DINOv2: its value-less build falls
back and the fallback got a config Keras had already consumed; SegFormer: layers
KerasHub leaves unnamed took names that depended on what the process built before;
CLIP: batch x batch logits that synthesised targets could not shape), known wrong
answers now right (DeepLabV3: a training value left in the call context by a layer
made inside a call; GPT-NeoX: a Dropout held but never called), and a few that pass,
one per kind of task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("keras_hub")

import keras
from hub_heldout_builders import FAMILIES
from test_live import assert_matches_runtime

from graphcheck import analyse
from graphcheck.runtime import shape_only

pytestmark = pytest.mark.truth


def _saved(family: str, frozen: bool, tmp_path: Path) -> Path:
    path = tmp_path / f"{family}_{'frozen' if frozen else 'trainable'}.keras"
    FAMILIES[family](frozen).save(path)
    return path


def _loaded(path: Path) -> Any:
    keras.backend.clear_session()
    return keras.saving.load_model(path, compile=False)


@pytest.mark.parametrize(
    ("family", "frozen"),
    [
        ("distilbert_classifier", True),  # encoder classifier
        ("dinov2_head", True),  # value-less build falls back
        ("segformer_segmenter", True),  # unnamed Dropout in the task
        ("clip_backbone", True),  # batch x batch outputs
    ],
)
def test_rebuilt_family_matches_runtime(family: str, frozen: bool, tmp_path: Path) -> None:
    """Rebuilt in a process that has already built models (as in a notebook), the
    report agrees call by call with the loaded file's real runs."""
    path = _saved(family, frozen, tmp_path)
    entry = analyse(str(path), rebuild=True)
    assert entry["source"] == f"rebuilt with keras {keras.__version__}"
    if frozen:
        frozen_weighted = [
            layer for layer in entry["layers"]
            if layer["has_weights"] and layer["will_train"] is False
        ]
        assert frozen_weighted, "the frozen backbone's layers do not train"
    assert_matches_runtime(entry, _loaded(path))


@pytest.mark.parametrize("family", ["distilbert_classifier", "dinov2_head"])
def test_value_less_build_changes_no_answer(
    family: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report of a value-less rebuild equals that of an ordinary build, field by
    field; DINOv2 assigns a weight while building, so its value-less attempt falls back."""
    path = _saved(family, True, tmp_path)
    attempts: list[bool] = []
    real = shape_only.build_shape_only

    def spy(keras_module: Any, build: Any, *args: Any) -> Any:
        result = real(keras_module, build, *args)
        attempts.append(result[1])
        return result

    monkeypatch.setattr(shape_only, "build_shape_only", spy)
    value_less = analyse(str(path), rebuild=True)
    monkeypatch.setattr(shape_only, "_HOOK", "_no_such_method")  # as a Keras without it
    ordinary = analyse(str(path), rebuild=True)
    assert attempts == [family != "dinov2_head", False]
    assert value_less == ordinary


def test_validate_rebuild_shapes_targets_from_the_real_outputs(tmp_path: Path) -> None:
    """validate --rebuild on a CLIP backbone (logits batch x batch): fit() runs and agrees."""
    import json

    from click.testing import CliRunner

    from graphcheck.cli import main

    path = _saved("clip_backbone", True, tmp_path)
    result = CliRunner().invoke(main, ["validate", "--rebuild", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    (model,) = json.loads(result.stdout)["models"]
    validation = model["validation"]
    assert validation["status"] == "agree", validation
    assert validation["fit_error"] is None
    assert any(w["will_train"] is False for w in validation["weights"]), "vision tower frozen"


def test_deeplab_v3_direct_call_batch_norm_mode(tmp_path: Path) -> None:
    """DeepLabV3: Keras 3.0-3.15 write the call() default of a Resizing layer made
    inside SpatialPyramidPooling.call (training=True) into the call context shared by
    model(x), so the segmentation head's BatchNormalization uses batch statistics
    there; the symbolic call of the rebuilt layer shows graphcheck that value."""
    path = _saved("deeplab_v3_segmenter", False, tmp_path)
    entry = analyse(str(path), rebuild=True)
    (head,) = [m for m in entry["mode_dependent"] if m["path"].endswith("segmentation_head_norm")]
    assert head["mode"]["call"] == "batch"
    assert "a Resizing layer created inside SpatialPyramidPooling's call" in head["reason"]
    assert_matches_runtime(entry, _loaded(path))


def test_gpt_neox_held_but_unused_dropout(tmp_path: Path) -> None:
    """GPT-NeoX: each decoder holds a feedforward_dropout its call never uses; real
    runs never call it, and graphcheck, seeing it never run in the symbolic calls,
    does not list it (nor GC101 for it in the frozen backbone)."""
    path = _saved("gpt_neox_causal_lm", True, tmp_path)
    entry = analyse(str(path), rebuild=True)
    held = {item["path"].rsplit("/", 1)[-1] for item in entry["inner_stochastic"]}
    assert "self_attention_dropout" in held and "feedforward_dropout" not in held
    assert_matches_runtime(entry, _loaded(path))

