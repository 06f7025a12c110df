"""Truth fuzzer: random small Keras models, graphcheck's answers against real runs.

Every case is one random model built from a seed: Functional or Sequential, with
nested Functional and Sequential submodels (some shared, called twice), call-site
``training=True/False/None`` flags on submodel and layer calls, ``trainable=False`` on
submodels and layers (and a trainable layer under a frozen parent), the Dropout
family, BatchNormalization, Dense, TimeDistributed, Bidirectional, recurrent layers
with dropout, MultiHeadAttention with dropout, RandomFlip on an image branch and
deterministic ``keras.ops`` / TensorFlow ops.  Each model is

1. analysed as a live object (``graphcheck.analyse(model)``) and observed in
   ``fit()``, ``predict()`` and ``model(x)``;
2. saved (``.keras`` for Keras 3; ``.h5`` and ``.keras`` for tf_keras), analysed
   statically (``graphcheck.analyse(path)``), loaded fresh and observed again.

The comparisons are the truth suite's own (``tests/truth/agreement.py``): per layer
and scenario, stochastic activity, BatchNormalization mode and which weights train.
A disagreement prints the seed, the generator's description of the model and the
assertion, and the run goes on; the exit status is 1 if any case disagreed.

    .venv/bin/python benchmarks/truth_fuzz.py --flavour keras3 --minutes 15
    .venv/bin/python benchmarks/truth_fuzz.py --flavour tfkeras --seed 7 --cases 1

A case whose model Keras itself cannot build, save or load is counted as "keras
error" and is not a disagreement (there is no ground truth for it).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
for entry in (ROOT / "tests" / "truth", ROOT):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

#: Formats saved per flavour (the live object is always analysed too).
FORMATS = {"keras3": ("keras",), "tfkeras": ("h5", "keras")}
STEPS = 4  # time steps of the sequence stream
WIDTH = 8  # features of the sequence stream: every block maps (STEPS, WIDTH) to itself
#: The Dropout family, by the short name their layers are given.
NOISE = {
    "dropout": "Dropout",
    "sdrop": "SpatialDropout1D",
    "gnoise": "GaussianNoise",
    "gdrop": "GaussianDropout",
    "adrop": "AlphaDropout",
}


@dataclass
class Generator:
    """Builds one random model from a seeded `random.Random`; records what it did."""

    K: Any
    flavour: str
    rng: random.Random
    #: Pass ``training=None`` explicitly at some call sites (False: only True/False).
    explicit_none: bool = True
    lines: list[str] = field(default_factory=list)
    counter: Counter[str] = field(default_factory=Counter)
    #: Submodels frozen after the build, each with where in its weight-bearing
    #: children to pick one to thaw again (None: none).
    freezes: list[tuple[Any, float | None]] = field(default_factory=list)

    def name(self, kind: str) -> str:
        self.counter[kind] += 1
        return f"{kind}{self.counter[kind]}"

    def say(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text)

    def rate(self) -> float:
        return self.rng.choice((0.2, 0.5, 0.0)) if self.rng.random() < 0.15 else 0.3

    def flag(self) -> tuple[bool, bool | None]:
        """(pass a training argument?, its value)."""
        if self.rng.random() < 0.55:
            return False, None
        return True, self.rng.choice((True, False, None) if self.explicit_none else (True, False))

    # One layer mapping (STEPS, WIDTH) to itself -------------------------------------
    def layer(self, two_inputs: bool = True) -> tuple[Any, str, bool]:
        """Return (layer, description, takes a training flag at its call).

        ``two_inputs`` False (a Sequential) leaves out MultiHeadAttention, which
        takes a query and a value.
        """
        L = self.K.layers
        rate = self.rate()
        kinds = [*NOISE, "dense", "bn", "td_dense", "td_drop", "rnn", "birnn"]
        kind = self.rng.choice([*kinds, "mha"] if two_inputs else kinds)
        if kind in NOISE:
            cls = NOISE[kind]
            return getattr(L, cls)(rate, name=self.name(kind)), f"{cls}({rate})", True
        if kind == "dense":
            return L.Dense(WIDTH, name=self.name("dense")), "Dense", False
        if kind == "bn":
            return L.BatchNormalization(name=self.name("bn")), "BatchNormalization", True
        if kind == "td_dense":
            inner = L.Dense(WIDTH, name=self.name("tdd_inner"))
            return L.TimeDistributed(inner, name=self.name("td")), "TimeDistributed(Dense)", False
        if kind == "td_drop":
            inner = L.Dropout(rate, name=self.name("tdrop_inner"))
            text = f"TimeDistributed(Dropout({rate}))"
            return L.TimeDistributed(inner, name=self.name("td")), text, True
        if kind == "rnn":
            return self._rnn(rate)
        if kind == "birnn":
            return self._birnn(rate)
        layer = L.MultiHeadAttention(num_heads=2, key_dim=2, dropout=rate, name=self.name("mha"))
        return layer, f"MultiHeadAttention(dropout={rate})", True

    def _rnn(self, rate: float) -> tuple[Any, str, bool]:
        cls = self.rng.choice(("LSTM", "GRU", "SimpleRNN"))
        rec = self.rng.choice((0.0, 0.3))
        layer = getattr(self.K.layers, cls)(
            WIDTH, dropout=rate, recurrent_dropout=rec, return_sequences=True,
            name=self.name(cls.lower()),
        )
        return layer, f"{cls}(dropout={rate}, recurrent_dropout={rec})", True

    def _birnn(self, rate: float) -> tuple[Any, str, bool]:
        inner = self.K.layers.LSTM(
            WIDTH // 2, dropout=rate, return_sequences=True, name=self.name("lstm")
        )
        return (
            self.K.layers.Bidirectional(inner, name=self.name("bidir")),
            f"Bidirectional(LSTM(dropout={rate}))",
            True,
        )

    def call_layer(self, x: Any, depth: int) -> Any:
        """Call one new layer on `x`, sometimes twice (a shared layer), each call
        with or without a ``training`` flag of its own."""
        layer, text, takes_flag = self.layer()
        if self.rng.random() < 0.15:
            layer.trainable = False
            text += " trainable=False"
        for _ in range(2 if self.rng.random() < 0.15 else 1):
            has, value = self.flag() if takes_flag else (False, None)
            args = (x, x) if layer.name.startswith("mha") else (x,)
            x = layer(*args, training=value) if has else layer(*args)
            self.say(depth, f"{layer.name}: {text}" + (f" training={value}" if has else ""))
        return x

    def op(self, x: Any, depth: int) -> Any:
        """A deterministic op recorded into the Functional graph."""
        if self.flavour == "keras3":
            ops = self.K.ops
            choice = self.rng.choice(("relu", "multiply", "add"))
            self.say(depth, f"keras.ops.{choice}")
            if choice == "relu":
                return ops.relu(x)
            return ops.multiply(x, 0.5) if choice == "multiply" else ops.add(x, 1.0)
        import tensorflow as tf

        choice = self.rng.choice(("relu", "multiply"))
        self.say(depth, f"tf.{choice}")
        return tf.nn.relu(x) if choice == "relu" else tf.math.multiply(x, 0.5)

    # Blocks: a chain of layers, submodels and ops on the (STEPS, WIDTH) stream ------
    def chain(self, x: Any, depth: int, length: int) -> Any:
        for _ in range(length):
            roll = self.rng.random()
            if roll < 0.25 and depth < 3:
                x = self.call_submodel(x, depth)
            elif roll < 0.32:
                x = self.op(x, depth)
            elif roll < 0.4:
                left = self.call_layer(x, depth + 1)
                self.say(depth, "Add(branch, skip)")
                x = self.K.layers.Add(name=self.name("add"))([left, x])
            else:
                x = self.call_layer(x, depth)
        return x

    def submodel(self, depth: int) -> Any:
        """A Functional or Sequential submodel mapping (STEPS, WIDTH) to itself."""
        length = self.rng.randint(1, 3)
        if self.rng.random() < 0.5:
            name = self.name("func")
            self.say(depth, f"{name}: Functional [")
            inputs = self.K.Input(shape=(STEPS, WIDTH), name=f"{name}_in")
            outputs = self.chain(inputs, depth + 1, length)
            model = self.K.Model(inputs, outputs, name=name)
        else:
            name = self.name("seq")
            with_input = self.rng.random() < 0.5
            self.say(depth, f"{name}: Sequential{' (with Input)' if with_input else ''} [")
            layers: list[Any] = [self.K.Input(shape=(STEPS, WIDTH))] if with_input else []
            for _ in range(length):
                if depth < 2 and self.rng.random() < 0.2:
                    layers.append(self.submodel(depth + 1))
                    continue
                layer, text, _ = self.layer(two_inputs=False)
                if self.rng.random() < 0.15:
                    layer.trainable = False
                    text += " trainable=False"
                self.say(depth + 1, f"{layer.name}: {text}")
                layers.append(layer)
            model = self.K.Sequential(layers, name=name)
        self.say(depth, "]")
        self._maybe_freeze(model, depth)
        return model

    def _maybe_freeze(self, model: Any, depth: int) -> None:
        if self.rng.random() >= 0.3:
            return
        # Which child to thaw is picked now, by position, and read once all is built:
        # an unbuilt Sequential has no weights to look at yet.
        thaw = self.rng.random() if self.rng.random() < 0.4 else None
        self.freezes.append((model, thaw))
        thawed = ", one child thawed" if thaw is not None else ""
        self.say(depth, f"{model.name}.trainable=False{thawed}")

    def call_submodel(self, x: Any, depth: int) -> Any:
        model = self.submodel(depth)
        times = 2 if self.rng.random() < 0.3 else 1
        for _ in range(times):
            has, value = self.flag()
            x = model(x, training=value) if has else model(x)
            self.say(depth, f"call {model.name}" + (f" training={value}" if has else ""))
        return x

    def build(self) -> Any:
        model = self.sequential_top() if self.rng.random() < 0.25 else self.functional_top()
        # Freezing after the build, as users do; a child thawed after its parent.
        for parent, thaw in reversed(self.freezes):  # outermost first
            parent.trainable = False
            children = [c for c in parent.layers if c.weights]
            if thaw is not None and children:
                child = children[int(thaw * len(children))]
                child.trainable = True
                self.lines.append(f"(thawed {parent.name}/{child.name})")
        return model

    def functional_top(self) -> Any:
        K = self.K
        inputs = [K.Input(shape=(STEPS, WIDTH), name="x")]
        x = inputs[0]
        if self.rng.random() < 0.3:
            # An image branch, flipped at random, folded into the sequence stream.
            img = K.Input(shape=(6, 6, 3), name="img")
            inputs.append(img)
            flip = K.layers.RandomFlip("horizontal", seed=3, name="flip")
            has, value = self.flag()
            y = flip(img, training=value) if has else flip(img)
            y = K.layers.Conv2D(2, 3, name="conv")(y)  # (4, 4, 2): 32 = STEPS * WIDTH
            text = "img -> RandomFlip" + (f" training={value}" if has else "") + " -> Conv2D"
            if self.rng.random() < 0.5:
                y = K.layers.SpatialDropout2D(0.3, name="sdrop2d")(y)
                text += " -> SpatialDropout2D"
            self.say(0, text)
            y = K.layers.Reshape((STEPS, WIDTH), name="fold")(y)
            x = K.layers.Add(name="merge_img")([x, y])
        x = self.chain(x, 0, self.rng.randint(2, 5))
        outputs = K.layers.Dense(1, name="head")(K.layers.Flatten(name="flat")(x))
        self.say(0, "Flatten -> Dense(1) head")
        return K.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name="fuzz")

    def sequential_top(self) -> Any:
        K = self.K
        self.say(0, "top: Sequential [")
        layers: list[Any] = [K.Input(shape=(STEPS, WIDTH))]
        for _ in range(self.rng.randint(2, 4)):
            if self.rng.random() < 0.3:
                layers.append(self.submodel(1))
                continue
            layer, text, _ = self.layer(two_inputs=False)
            if self.rng.random() < 0.15:
                layer.trainable = False
                text += " trainable=False"
            self.say(1, f"{layer.name}: {text}")
            layers.append(layer)
        layers += [K.layers.Flatten(name="flat"), K.layers.Dense(1, name="head")]
        self.say(0, "] + Flatten, Dense(1) head")
        return K.Sequential(layers, name="fuzz")


def build_case(flavour: str, seed: int, explicit_none: bool = True) -> tuple[Any, str]:
    """Return (model, description) for `seed`; the same seed builds the same model."""
    from builders import keras_module

    K = keras_module(flavour)  # clears the session and seeds Keras
    gen = Generator(K, flavour, random.Random(seed), explicit_none)
    model = gen.build()
    return model, "\n".join(gen.lines)


@dataclass
class Outcome:
    """What one case found: ``failures`` lists (stage, message); ``keras_error`` no truth."""

    failures: list[tuple[str, str]] = field(default_factory=list)
    keras_error: str | None = None


def run_case(
    flavour: str, seed: int, directory: Path, explicit_none: bool = True
) -> tuple[Outcome, str]:
    """Build, analyse and observe one case; return its outcome and description."""
    from agreement import STATIC_SCENARIOS, assert_agrees, assert_saved_model_agrees
    from builders import KERAS_VERSIONS
    from saving import load_model, save_model

    from graphcheck import analyse
    from graphcheck.runtime import observe, synthesise_inputs, synthesise_targets

    outcome = Outcome()
    try:
        model, description = build_case(flavour, seed, explicit_none)
    except Exception as exc:  # Keras refusing a construct: no truth
        outcome.keras_error = f"build: {type(exc).__name__}: {exc}"
        return outcome, ""
    version = KERAS_VERSIONS[flavour]

    def check(stage: str, action: Callable[[], None]) -> None:
        try:
            action()
        except AssertionError as exc:
            outcome.failures.append((stage, f"AssertionError: {exc}"))
        except Exception as exc:  # a crash in graphcheck is a finding too
            tb = traceback.format_exc(limit=-3)
            outcome.failures.append((stage, f"{type(exc).__name__}: {exc}\n{tb}"))

    def live() -> None:
        entry = analyse(model)
        inputs = synthesise_inputs(model)
        targets = synthesise_targets(model, inputs)
        obs = observe(model, inputs, scenarios=STATIC_SCENARIOS, targets=targets)
        assert_agrees(entry, obs.active, obs.bn_batch_stats, obs.class_names,
                      obs.weights_changed, obs.fit_error)

    check("live", live)
    paths = {}
    for fmt in FORMATS[flavour]:
        try:
            paths[fmt] = save_model(model, flavour, fmt, directory)
        except Exception as exc:
            outcome.keras_error = f"save {fmt}: {type(exc).__name__}: {exc}"
    for fmt, path in paths.items():
        try:
            loaded = load_model(path, flavour, fmt)
        except Exception as exc:
            outcome.keras_error = f"load {fmt}: {type(exc).__name__}: {exc}"
            continue
        check(fmt, lambda p=path, m=loaded: assert_saved_model_agrees(p, m, version))
    return outcome, description


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavour", choices=tuple(FORMATS), default="keras3")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--cases", type=int, help="number of cases (seeds seed, seed+1, ...)")
    limit.add_argument("--minutes", type=float, help="run new seeds for this long")
    parser.add_argument("--verbose", action="store_true", help="print every case's model")
    parser.add_argument(
        "--no-explicit-none",
        action="store_true",
        help="never pass training=None at a call site (Keras 3.10 and later take it as "
        "passed; see tests/truth/test_fuzz_findings_truth.py)",
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # Keras's legacy-format and tf.data notices, per case
    cases = args.cases if args.cases is not None else (None if args.minutes else 20)
    deadline = time.monotonic() + 60 * args.minutes if args.minutes else None

    counts: Counter[str] = Counter()
    disagreeing: list[int] = []
    started = time.monotonic()
    seed = args.seed
    while True:
        if cases is not None and counts["cases"] >= cases:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        with tempfile.TemporaryDirectory(prefix="truth_fuzz_") as tmp:
            outcome, description = run_case(
                args.flavour, seed, Path(tmp), not args.no_explicit_none
            )
        counts["cases"] += 1
        if outcome.keras_error:
            counts["keras error"] += 1
            print(f"seed {seed}: keras error ({outcome.keras_error.splitlines()[0][:200]})")
        if outcome.failures:
            counts["disagreeing"] += 1
            disagreeing.append(seed)
            print(f"=== DISAGREEMENT {args.flavour} seed {seed}")
            print(description)
            for stage, message in outcome.failures:
                print(f"--- {stage}: {message}")
        elif args.verbose:
            print(f"seed {seed}: ok\n{description}")
        sys.stdout.flush()
        seed += 1
    elapsed = time.monotonic() - started
    print(
        f"{args.flavour}: {counts['cases']} cases (seeds {args.seed}..{seed - 1}) in "
        f"{elapsed:.0f} s; {counts['disagreeing']} disagreeing"
        f"{' ' + str(disagreeing) if disagreeing else ''}; {counts['keras error']} keras errors"
    )
    return 1 if disagreeing else 0


if __name__ == "__main__":
    sys.exit(main())
