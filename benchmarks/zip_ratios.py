"""Compression ratios of the members of real ``.keras`` archives, and what each Keras
does with an archive's assets on load: the measurements behind GC409's thresholds.

    .venv/bin/python benchmarks/zip_ratios.py ratios [--out DIR]
    .venv/bin/python benchmarks/zip_ratios.py extract --python PY [--declared MIB ...]

``ratios`` writes ``.keras`` files with Keras 3, tf_keras and KerasHub whose assets
are tokenizer vocabularies of real size (WordPiece 30,522 and byte-pair 50,257
entries trained with ``tokenizers``, a SentencePiece 32,000-piece model, adapted
``StringLookup``/``TextVectorization`` vocabularies, all learnt from the Python
standard library's source), then lists every member of those files and of every
``.keras`` in ``samples/``, ``tests/fixtures/`` and ``shared/real-models/``: its
compression method, declared and stored sizes, and the ratio it would have if the
archive were re-zipped with DEFLATE level 9 (compressed as a stream; nothing is
decompressed).

``extract`` loads a small Keras-written model with one extra ``assets/`` member, a
real DEFLATE stream of zeros (about 1,029:1) declaring the given sizes, with the
Keras that ``--python`` runs, under an empty ``TMPDIR``; a watcher records the most
bytes the loader put there and whether it refused the archive.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from load_safety_samples import append_deflate_bomb  # noqa: E402


def corpus(limit: int = 24 << 20) -> str:
    """Text of the standard library's Python sources, up to ``limit`` characters."""
    base = Path(os.__file__).parent
    parts, size = [], 0
    for path in sorted(base.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts:
            continue
        text = path.read_text(errors="replace")
        parts.append(text)
        size += len(text)
        if size >= limit:
            break
    return "".join(parts)


def _train_tokenizers(text_file: Path, out: Path) -> dict[str, object]:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.train(
        [str(text_file)],
        trainers.WordPieceTrainer(
            vocab_size=30522, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        ),
    )
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train(
        [str(text_file)],
        trainers.BpeTrainer(vocab_size=50257, special_tokens=["<|endoftext|>"],
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    bpe_model = json.loads(bpe.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in bpe_model["merges"]]

    import sentencepiece as spm

    prefix = out / "spm"
    spm.SentencePieceTrainer.train(
        input=str(text_file), model_prefix=str(prefix), vocab_size=32000,
        input_sentence_size=200_000, shuffle_input_sentence=True, pad_id=0, unk_id=1,
        bos_id=-1, eos_id=-1, user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"],
        pad_piece="<pad>", unk_piece="<unk>", minloglevel=2,
    )
    vocab = sorted(wordpiece.get_vocab().items(), key=lambda item: item[1])
    return {
        "wordpiece": [token for token, _ in vocab],
        "bpe_vocab": bpe_model["vocab"],
        "bpe_merges": merges,
        "spm": (out / "spm.model").read_bytes(),
    }


def write_real_files(out: Path) -> list[Path]:
    """Keras 3, tf_keras and KerasHub archives whose assets are real-size vocabularies."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import keras_hub
    import numpy as np
    import tf_keras

    text = corpus()
    text_file = out / "corpus.txt"
    text_file.write_text(text)
    words = np.array(text.split()[:400_000])
    tokens = _train_tokenizers(text_file, out)
    files = []

    inputs = keras.Input((1,), dtype="string")
    lookup = keras.layers.StringLookup()
    lookup.adapt(words)
    vectorize = keras.layers.TextVectorization(max_tokens=50_000, output_sequence_length=8)
    vectorize.adapt(words[:200_000])
    model = keras.Model(inputs, [lookup(inputs), vectorize(keras.ops.squeeze(inputs, -1))])
    files.append(out / "k3_adapted_lookups.keras")
    model.save(files[-1])

    tf_inputs = tf_keras.Input((1,), dtype="string")
    tf_lookup = tf_keras.layers.StringLookup()
    tf_lookup.adapt(words)
    files.append(out / "tf_keras_adapted_lookup.keras")
    tf_keras.Model(tf_inputs, tf_lookup(tf_inputs)).save(files[-1])

    bert = keras_hub.models.BertTextClassifier(
        keras_hub.models.BertBackbone(
            vocabulary_size=len(tokens["wordpiece"]), num_layers=1, num_heads=2,
            hidden_dim=8, intermediate_dim=16, max_sequence_length=16,
        ),
        num_classes=2,
        preprocessor=keras_hub.models.BertTextClassifierPreprocessor(
            keras_hub.models.BertTokenizer(vocabulary=tokens["wordpiece"]), sequence_length=16
        ),
    )
    files.append(out / "hub_bert_wordpiece.keras")
    bert.save(files[-1])

    gpt2 = keras_hub.models.GPT2CausalLM(
        keras_hub.models.GPT2Backbone(
            vocabulary_size=len(tokens["bpe_vocab"]), num_layers=1, num_heads=2,
            hidden_dim=8, intermediate_dim=16, max_sequence_length=16,
        ),
        preprocessor=keras_hub.models.GPT2CausalLMPreprocessor(
            keras_hub.models.GPT2Tokenizer(
                vocabulary=tokens["bpe_vocab"], merges=tokens["bpe_merges"]
            ),
            sequence_length=16,
        ),
    )
    files.append(out / "hub_gpt2_bpe.keras")
    gpt2.save(files[-1])

    albert = keras_hub.models.AlbertTextClassifier(
        keras_hub.models.AlbertBackbone(
            vocabulary_size=32000, num_layers=1, num_heads=2, embedding_dim=8,
            hidden_dim=8, intermediate_dim=16, max_sequence_length=16,
        ),
        num_classes=2,
        preprocessor=keras_hub.models.AlbertTextClassifierPreprocessor(
            keras_hub.models.AlbertTokenizer(proto=tokens["spm"]), sequence_length=16
        ),
    )
    files.append(out / "hub_albert_sentencepiece.keras")
    albert.save(files[-1])
    return files


def deflate_ratio(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> float:
    """Declared size over the size DEFLATE level 9 gives the member (streamed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = 0
    with archive.open(info) as member:
        while chunk := member.read(1 << 20):
            packed += len(compressor.compress(chunk))
    packed += len(compressor.flush())
    return info.file_size / max(packed, 1)


def ratios(paths: list[Path]) -> list[dict[str, object]]:
    rows = []
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                rows.append({
                    "file": str(path),
                    "member": info.filename,
                    "method": info.compress_type,
                    "declared": info.file_size,
                    "stored": info.compress_size,
                    "ratio": info.file_size / max(info.compress_size, 1),
                    "deflate9_ratio": deflate_ratio(archive, info),
                })
    return rows


def command_ratios(args: argparse.Namespace) -> None:
    out = args.out or Path(tempfile.mkdtemp(prefix="graphcheck-ratios-"))
    out.mkdir(parents=True, exist_ok=True)
    files = write_real_files(out)
    from paths import REAL_MODELS

    for folder in (ROOT / "samples", ROOT / "tests" / "fixtures", REAL_MODELS):
        if folder.is_dir():
            files += sorted(folder.glob("*.keras"))
    rows = ratios(sorted(set(files)))
    print("| file | member | method | declared | stored | ratio | DEFLATE-9 ratio |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {Path(str(row['file'])).name} | {row['member']} | {row['method']} | "
              f"{row['declared']} | {row['stored']} | {row['ratio']:.2f} | "
              f"{row['deflate9_ratio']:.2f} |")
    worst = max(rows, key=lambda r: float(r["ratio"]))  # type: ignore[arg-type]
    worst9 = max(rows, key=lambda r: float(r["deflate9_ratio"]))  # type: ignore[arg-type]
    print(f"\n{len(rows)} members of {len({r['file'] for r in rows})} files; "
          f"highest ratio as written {worst['ratio']:.2f} ({worst['member']}); "
          f"highest if re-zipped with DEFLATE-9 {worst9['deflate9_ratio']:.2f} "
          f"({Path(str(worst9['file'])).name}: {worst9['member']}, {worst9['declared']} bytes)")
    (out / "ratios.json").write_text(json.dumps(rows, indent=1))


_LOAD = """\
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
package = sys.argv[2]
keras = __import__(package)
try:
    keras.models.load_model(sys.argv[1], **({"safe_mode": True} if package == "keras" else {}))
    print(json.dumps({"version": keras.__version__, "outcome": "loaded"}))
except Exception as exc:
    print(json.dumps({"version": keras.__version__, "outcome": f"{type(exc).__name__}: {exc}"[:300]}))
"""

_SAVE = """\
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
package = sys.argv[2]
keras = __import__(package)
words = keras.Input((1,), dtype="string")
lookup = keras.layers.StringLookup()
lookup.adapt(["alpha", "beta", "gamma"])
keras.Model(words, lookup(words)).save(sys.argv[1])
"""


def _watch(directory: Path, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        total = 0
        for root, _, names in os.walk(directory):
            for name in names:
                with contextlib.suppress(OSError):
                    total += os.stat(os.path.join(root, name)).st_blocks * 512
        peak[0] = max(peak[0], total)
        time.sleep(0.02)


def command_extract(args: argparse.Namespace) -> None:
    package = args.package
    with tempfile.TemporaryDirectory(prefix="graphcheck-extract-") as tmp:
        work = Path(tmp)
        base = work / "base.keras"
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        subprocess.run([args.python, "-c", _SAVE, str(base), package], check=True, env=env,
                       capture_output=True, cwd=work)
        for mib in args.declared:
            target = work / f"bomb_{mib}.keras"
            target.write_bytes(base.read_bytes())
            append_deflate_bomb(target, "assets/bomb.bin", mib << 20)
            info = zipfile.ZipFile(target).getinfo("assets/bomb.bin")
            scratch = work / f"tmp_{mib}"
            scratch.mkdir()
            stop, peak = threading.Event(), [0]
            watcher = threading.Thread(target=_watch, args=(scratch, stop, peak))
            watcher.start()
            done = subprocess.run(
                [args.python, "-c", _LOAD, str(target), package], capture_output=True,
                text=True, env=dict(env, TMPDIR=str(scratch)), cwd=work, check=False,
            )
            stop.set()
            watcher.join()
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{package} {result['version']}: member declares {info.file_size} bytes "
                  f"from {info.compress_size} ({info.file_size / info.compress_size:.0f}:1); "
                  f"most bytes in TMPDIR during load: {peak[0]}; {result['outcome'][:160]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("ratios")
    one.add_argument("--out", type=Path)
    two = sub.add_parser("extract")
    two.add_argument("--python", default=sys.executable)
    two.add_argument("--package", default="keras", choices=("keras", "tf_keras"))
    two.add_argument("--declared", type=int, nargs="+", default=[100, 300], help="MiB")
    args = parser.parse_args()
    {"ratios": command_ratios, "extract": command_extract}[args.command](args)


if __name__ == "__main__":
    main()
