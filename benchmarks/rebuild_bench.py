"""`graphcheck check --rebuild` against `keras.saving.load_model` on a BERT-base-sized KerasHub model.

The model: KerasHub ``BertTextClassifier`` over a ``BertBackbone`` of BERT-base size
(vocabulary 30,522, 12 layers, 12 heads, hidden 768, intermediate 3,072, sequence
512; about 110 M parameters), backbone frozen, saved once as ``.keras`` in a
temporary directory. Each measurement is a fresh process, run with ``os.wait4`` for
its wall time and peak RSS (``ru_maxrss``), `--repeats` times; the median is kept.

- ``rebuild``: ``python -m graphcheck check --rebuild MODEL`` (reads config.json,
  builds the model with Keras with value-less variables: no weights read, no
  initializer run; analyses and prints the report);
- ``load_model``: ``keras.saving.load_model(MODEL, compile=False)`` in a script;
- ``import``: ``import keras, keras_hub`` alone, the floor both pay.

Run from the repository root::

    .venv/bin/python benchmarks/rebuild_bench.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}

MAKE = """
import keras, keras_hub, sys
keras.utils.set_random_seed(0)
backbone = keras_hub.models.BertBackbone(
    vocabulary_size=30522, num_layers=12, num_heads=12, hidden_dim=768,
    intermediate_dim=3072, max_sequence_length=512, dropout=0.1)
model = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
backbone.trainable = False
model.save(sys.argv[1])
print(model.count_params())
"""
LOAD = "import keras, keras_hub, sys; keras.saving.load_model(sys.argv[1], compile=False)"
IMPORT = "import keras, keras_hub"


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed: {argv}: {child.stderr.read().decode()[-500:] if child.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bert_base.keras")
        params = subprocess.run([sys.executable, "-c", MAKE, path], env=ENV, check=True,
                                capture_output=True, text=True).stdout.split()[-1]
        size = Path(path).stat().st_size / 2**20
        runs = {
            "import keras, keras_hub": [sys.executable, "-c", IMPORT],
            "graphcheck check --rebuild": [sys.executable, "-m", "graphcheck", "check", "--rebuild", path],
            "keras.saving.load_model": [sys.executable, "-c", LOAD, path],
        }
        results = {}
        for name, argv in runs.items():
            samples = [measure(argv) for _ in range(args.repeats)]
            results[name] = (statistics.median(s[0] for s in samples),
                             statistics.median(s[1] for s in samples))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"model: BertTextClassifier, BERT-base backbone, {int(params):,} parameters, .keras {size:.0f} MiB")
    print(f"{'':30} {'wall s':>8} {'peak RSS MiB':>13}  (median of {args.repeats}, fresh process each)")
    for name, (wall, rss) in results.items():
        print(f"{name:30} {wall:8.2f} {rss:13.0f}")
    rebuild, load = results["graphcheck check --rebuild"], results["keras.saving.load_model"]
    floor = results["import keras, keras_hub"]
    print(f"rebuild / load_model: time {rebuild[0] / load[0]:.2f}, memory {rebuild[1] / load[1]:.2f}")
    print(f"above the import: rebuild {rebuild[0] - floor[0]:+.2f} s {rebuild[1] - floor[1]:+.0f} MiB, "
          f"load_model {load[0] - floor[0]:+.2f} s {load[1] - floor[1]:+.0f} MiB")


if __name__ == "__main__":
    main()
