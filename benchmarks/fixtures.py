"""Build the benchmark models: keras.applications architectures with ``weights=None``.

Nothing is downloaded: the weights are random. Each model is saved as ``NAME.keras``
(Keras 3 archive) and ``NAME.h5`` (legacy HDF5) in OUTDIR. One model per process, so
that building ConvNeXtXLarge (over 1 GB of weights) does not keep the others in memory.

Usage::

    .venv/bin/python benchmarks/fixtures.py OUTDIR NAME [NAME...]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

APPLICATIONS = (
    "MobileNetV2",
    "ResNet50",
    "InceptionV3",
    "DenseNet201",
    "EfficientNetB7",
    "NASNetLarge",
    "ConvNeXtXLarge",
)


def build(name: str, outdir: Path) -> None:
    """Build keras.applications.NAME(weights=None) and save it as .keras and .h5."""
    import warnings

    warnings.filterwarnings("ignore")
    import keras

    keras_path = outdir / f"{name}.keras"
    h5_path = outdir / f"{name}.h5"
    if keras_path.exists() and h5_path.exists():
        return
    start = time.perf_counter()
    model = getattr(keras.applications, name)(weights=None)
    for path in (keras_path, h5_path):
        tmp = path.with_name(path.stem + ".tmp" + path.suffix)
        model.save(tmp)
        tmp.replace(path)
    print(f"{name}: {len(model.layers)} layers, {model.count_params():,} parameters, "
          f"{time.perf_counter() - start:.0f} s", file=sys.stderr)


def main(argv: list[str]) -> int:
    outdir = Path(argv[0])
    outdir.mkdir(parents=True, exist_ok=True)
    for name in argv[1:]:
        build(name, outdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
