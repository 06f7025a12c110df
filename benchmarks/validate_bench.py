"""How long `graphcheck validate` takes next to what a user pays anyway: load + one predict().

For each model: the baseline is ``load_model(path, compile=False)`` (``model_from_json``
for architecture JSON) with the same Keras the validator picks, then one
``model.predict(x)`` on the same synthetic batch; the validation is
``validate_model(path)`` minus its import phase (both run after Keras is imported).
Each is timed `--repeats` times in one process and the median is kept.

Models: every sample in samples/ plus keras.applications.MobileNetV2(weights=None)
saved as .keras in a temporary directory.

Run from the repository root::

    .venv/bin/python benchmarks/validate_bench.py --write docs/validate-performance.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphcheck.readers import read_model  # noqa: E402
from graphcheck.runtime.inputs import synthesise_inputs  # noqa: E402
from graphcheck.runtime.loading import import_quietly, loader_candidates  # noqa: E402
from graphcheck.runtime.validate import ValidationOptions, validate_model  # noqa: E402

PHASES = ("load", "predict", "call", "fit", "compare")


def baseline(path: Path, batch_size: int) -> float:
    """Seconds for load_model + one predict() with the Keras the validator would use."""
    saved = read_model(path)
    package = loader_candidates(saved, "tensorflow")[0]
    module = import_quietly(package)
    module.backend.clear_session()
    start = time.perf_counter()
    if saved.format == "json":
        model = module.models.model_from_json(path.read_text())
    else:
        model = module.models.load_model(path, compile=False)
    x = synthesise_inputs(model, batch_size=batch_size)
    model.predict(x[0] if len(x) == 1 else x, batch_size=batch_size, verbose=0)
    return time.perf_counter() - start


def validation(path: Path, batch_size: int) -> tuple[float, dict[str, float], bool]:
    """Seconds for validate_model without the import phase, per-phase seconds, agreement."""
    result = validate_model(str(path), ValidationOptions(batch_size=batch_size))
    phases = {k: v for k, v in result.timings.items() if k != "import"}
    return sum(phases.values()), phases, result.agree


def mobilenet(directory: Path) -> Path:
    import keras

    keras.backend.clear_session()
    model = keras.applications.MobileNetV2(weights=None)
    path = directory / "mobilenet_v2.keras"
    model.save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--write", metavar="FILE.md", help="also write the table as Markdown")
    args = parser.parse_args()

    import_quietly("tensorflow")
    import_quietly("keras")
    import_quietly("tf_keras")
    import keras
    import tensorflow as tf

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        models = sorted(p for p in (ROOT / "samples").iterdir() if p.suffix in (".h5", ".keras", ".json"))
        models.append(mobilenet(Path(tmp)))
        for path in models:
            batch = 2 if path.name.endswith("_full.json") else args.batch_size
            validation(path, batch)  # warm-up: first-use costs of each Keras
            base = statistics.median(baseline(path, batch) for _ in range(args.repeats))
            runs = [validation(path, batch) for _ in range(args.repeats)]
            total = statistics.median(r[0] for r in runs)
            phases = {p: statistics.median(r[1][p] for r in runs) for p in PHASES}
            rows.append(
                {"model": path.name, "batch": batch, "baseline": base, "validate": total,
                 "ratio": total / base, "phases": phases, "agree": all(r[2] for r in runs)}
            )
            print(f"{path.name:34} batch {batch}  load+predict {base:6.2f}s  validate {total:6.2f}s "
                  f"ratio {total / base:4.2f}  " + " ".join(f"{p} {phases[p]:.2f}" for p in PHASES),
                  flush=True)

    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, CPU only"
    )
    if args.write:
        Path(args.write).write_text(markdown(rows, machine, args), encoding="utf-8")


def markdown(rows: list[dict[str, Any]], machine: str, args: argparse.Namespace) -> str:
    lines = [
        "# `graphcheck validate`: how long it takes",
        "",
        "Validation time next to what loading the model and running one `predict()` costs",
        "anyway, with the same Keras, on the same synthetic batch.",
        "",
        f"- Machine: {machine}.",
        f"- Command: `.venv/bin/python benchmarks/validate_bench.py --repeats {args.repeats} "
        f"--write docs/validate-performance.md` (median of {args.repeats} runs after one warm-up; "
        "Keras and TensorFlow already imported, so the ~2-4 s import is in neither column).",
        "- *load+predict*: `load_model(path, compile=False)` (or `model_from_json`) + one "
        "`model.predict(x)` in graph mode, tracing included, as a user's first call pays it.",
        "- *validate*: `validate_model(path)` without its import phase: static read and "
        "analysis, load from a temporary copy, instrumented eager predict() + one plain "
        "predict() (the repeat check), model(x) three ways, one fit() step, comparison.",
        "",
        "| model | batch | load+predict (s) | validate (s) | ratio | load | predict | call | fit | compare | agree |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r["phases"]
        lines.append(
            f"| {r['model']} | {r['batch']} | {r['baseline']:.2f} | {r['validate']:.2f} | "
            f"{r['ratio']:.2f}x | " + " | ".join(f"{p[k]:.2f}" for k in PHASES)
            + f" | {'yes' if r['agree'] else 'NO'} |"
        )
    ratios = [r["ratio"] for r in rows]
    lines += [
        "",
        f"Ratio: median {statistics.median(ratios):.2f}x, worst {max(ratios):.2f}x "
        f"({max(rows, key=lambda r: r['ratio'])['model']}).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
