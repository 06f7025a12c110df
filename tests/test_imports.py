"""The static path never imports TensorFlow or Keras (nor Graphviz for a text report)."""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import ROOT, SAMPLES

# The hub libraries are imported only to fetch an hf:// or kaggle:// handle.
HEAVY = ("tensorflow", "keras", "tf_keras", "jax", "torch", "graphviz", "huggingface_hub",
         "kagglehub")

PROBE = """
import json, sys
from graphcheck.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print(json.dumps(heavy), file=sys.stderr)
"""


def test_check_imports_no_tensorflow_or_keras() -> None:
    """Running graphcheck on every sample format loads no TensorFlow, Keras or Graphviz."""
    samples = [str(SAMPLES / name) for name in
               ("transfer_inception.h5", "merged_frozen.keras", "transfer_inception_full.json")]
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY)), "--format", "json", *samples],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )
    assert json.loads(result.stdout)["models"], result.stderr
    imported = json.loads(result.stderr.strip().splitlines()[-1])
    assert imported == []


def test_model_needing_rebuild_imports_nothing_without_the_flag() -> None:
    """A KerasHub file without --rebuild is one error naming --rebuild; no Keras is imported."""
    sample = str(SAMPLES / "rebuild" / "bert_frozen_classifier.keras")
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY) | {"keras_hub"}), sample],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )
    lines = result.stderr.strip().splitlines()
    assert "--rebuild" in lines[0] and "BertTextClassifier" in lines[0]
    assert json.loads(lines[-1]) == []
