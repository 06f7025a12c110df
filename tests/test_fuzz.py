"""Property-based fuzzing of the static path with mutated real models.

Structural mutations edit the stored configs of every sample and shared real model
(delete keys, change types, swap values, drop layers, mangle stored calls, insert
cycles, rename layers); byte mutations flip, cut and splice the raw files. The
property: ``graphcheck.load(path).analyse(...)`` and the reporters either succeed or
raise a :class:`~graphcheck.errors.GraphcheckError`; anything else is a bug.

Each property runs its examples split evenly over every base (or file). CI runs a
bounded, fixed-seed budget (``derandomize=True``) that still draws every output
format, Keras profile and edit (each property asserts so);
``GRAPHCHECK_FUZZ_EXAMPLES=N`` runs N examples per property (the long run, docs/development.md), and ``benchmarks/soak.py`` runs the same mutators for as long as
asked, with random seeds.
"""

from __future__ import annotations

import copy
import json
import os
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile_fixtures as hf  # noqa: E402

from graphcheck.readers.h5 import READ_DEADLINE_S  # noqa: E402

FUZZ = settings(derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
#: Environment variable: examples per property for a long run (docs/development.md),
#: split evenly over the bases (structural) or files (bytes).
EXAMPLES_ENV = "GRAPHCHECK_FUZZ_EXAMPLES"
#: CI budgets per property. Every base and file gets its share by construction; each
#: property asserts that every output format, Keras profile and edit came up too.
CI_STRUCTURAL_EXAMPLES = 400
CI_BYTE_EXAMPLES = 100
KERAS_VERSIONS = ("3.15.1", "2.15.0", "3.16.0")
NAMES = ("x", "a/b", "a@1", "%", "dropout", "", "a\nb", "\u00e9", "input_1", "l0", "lam")


def _load_bases() -> list[tuple[str, dict[str, Any], str | None]]:
    bases = []
    for path in hf.real_model_files():
        try:
            config, version = hf.read_stored_config(path)
        except Exception:  # noqa: BLE001 - a sample the reader refuses is no base
            continue
        bases.append((path.name, config, version))
    bases.append(("k3_chain", hf.k3_chain(4), "3.15.1"))
    bases.append(("k2_chain", hf.k2_chain(4), "2.15.0"))
    bases.append(("nested", hf.nested_lambda_model(hf.k3_layer("d", "Dropout")), "3.15.1"))
    return bases


BASES = _load_bases()


# ---- structural mutation ---------------------------------------------------------------


def _containers(document: Any) -> list[Any]:
    """Every dict and list in a document (iteratively: documents can be deep)."""
    found, stack = [], [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            found.append(item)
            stack.extend(item)
    return found


def _layer_lists(document: Any) -> list[list[Any]]:
    return [c["layers"] for c in _containers(document)
            if isinstance(c, dict) and isinstance(c.get("layers"), list) and c["layers"]]


def _ref_lists(document: Any) -> list[list[Any]]:
    """``[name, node, tensor(, kwargs)]`` lists and ``keras_history`` lists."""
    return [c for c in _containers(document) if isinstance(c, list) and 3 <= len(c) <= 4
            and isinstance(c[0], str) and isinstance(c[1], int)]


def _random_value(rng: random.Random, others: list[Any]) -> Any:
    choice = rng.randrange(12)
    if choice == 0 and others:
        return copy.deepcopy(rng.choice(others))
    return [None, True, False, -1, 0, 1, 2**70, 1e309, float("nan"), "", rng.choice(NAMES),
            [], {}, [None], {"class_name": "__keras_tensor__"}][rng.randrange(15)]


#: The structural edits, by name (``mutate_config`` logs the ones it applied).
STRUCTURAL_OPS = ("delete-key", "change-type", "swap-values", "drop-layer", "duplicate-layer",
                  "mangle-reference", "insert-cycle", "rename-layer", "wrap-value")


def mutate_config(document: Any, rng: random.Random, steps: int,
                  log: list[str] | None = None) -> Any:
    """Apply ``steps`` random structural edits to a copy of ``document``.

    The name of each edit applied is appended to ``log`` when one is given.
    """
    document = copy.deepcopy(document)
    applied = log if log is not None else []
    for _ in range(steps):
        containers = _containers(document)
        target = rng.choice(containers)
        op = rng.randrange(10)
        if op == 0 and isinstance(target, dict) and target:  # delete a key
            del target[rng.choice(list(target))]
            applied.append("delete-key")
        elif op == 1 and target:  # change a value's type
            key = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(len(target))
            target[key] = _random_value(rng, containers)
            applied.append("change-type")
        elif op == 2 and len(containers) > 2:  # swap two values
            a, b = rng.sample(containers, 2)
            if a and b:
                ka = rng.choice(list(a)) if isinstance(a, dict) else rng.randrange(len(a))
                kb = rng.choice(list(b)) if isinstance(b, dict) else rng.randrange(len(b))
                if a is not b or ka != kb:
                    a[ka], b[kb] = b[kb], a[ka]
                    applied.append("swap-values")
        elif op == 3 and (layers := _layer_lists(document)):  # drop a layer
            chosen = rng.choice(layers)
            del chosen[rng.randrange(len(chosen))]
            applied.append("drop-layer")
        elif op == 4 and (layers := _layer_lists(document)):  # duplicate a layer
            chosen = rng.choice(layers)
            chosen.insert(rng.randrange(len(chosen) + 1), copy.deepcopy(rng.choice(chosen)))
            applied.append("duplicate-layer")
        elif op in (5, 6) and (refs := _ref_lists(document)):  # mangle a tensor reference
            ref = rng.choice(refs)
            names = [r[0] for r in refs]
            edit = rng.randrange(5)
            if edit == 0:
                ref[0] = rng.choice(names + list(NAMES))  # often a cycle or a dangling name
            elif edit == 1:
                ref[1] = rng.choice([-1, 1, 2, 5, 2**40])
            elif edit == 2:
                ref[2] = rng.choice([-1, 1, 2, 99])
            elif edit == 3:
                ref[rng.randrange(len(ref))] = _random_value(rng, containers)
            else:
                del ref[rng.randrange(len(ref))]
            applied.append("mangle-reference")
        elif op == 7 and (layers := _layer_lists(document)):  # insert a cycle
            chosen = [entry for entry in rng.choice(layers) if isinstance(entry, dict)]
            if len(chosen) >= 2:
                early, late = chosen[0], chosen[-1]
                inner = late.get("config")
                name = late.get("name") or (inner.get("name") if isinstance(inner, dict) else None)
                nodes = early.get("inbound_nodes")
                if isinstance(name, str):
                    keras3 = isinstance(nodes, list) and nodes and isinstance(nodes[0], dict)
                    early["inbound_nodes"] = [[[name, 0, 0, {}]]] if not keras3 else [
                        {"args": [hf.k3_tensor(name)], "kwargs": {}}]
                    applied.append("insert-cycle")
        elif op == 8 and (layers := _layer_lists(document)):  # rename a layer
            entry = rng.choice(rng.choice(layers))
            if isinstance(entry, dict):
                new = rng.choice(NAMES)
                entry["name"] = new
                if isinstance(entry.get("config"), dict):
                    entry["config"]["name"] = new
                applied.append("rename-layer")
        elif op == 9:  # wrap a value in a list or an object
            if isinstance(target, dict) and target:
                key = rng.choice(list(target))
                target[key] = rng.choice([[target[key]], {"config": target[key]}])
                applied.append("wrap-value")
    return document


# ---- byte mutation -------------------------------------------------------------------


#: Where a byte edit lands, and what it does, by name (``mutate_bytes`` logs both).
BYTE_REGIONS = ("head", "tail", "anywhere")
BYTE_OPS = ("flip-bit", "overwrite", "truncate", "duplicate", "insert", "delete")


def mutate_bytes(data: bytes, rng: random.Random, steps: int,
                 log: list[str] | None = None) -> bytes:
    """Flip, overwrite, cut, duplicate or insert bytes; biased to file heads and tails.

    The region and the name of each edit applied are appended to ``log`` when given.
    """
    buffer = bytearray(data)
    applied = log if log is not None else []
    for _ in range(steps):
        if not buffer:
            break
        region = rng.randrange(3)
        size = len(buffer)
        if region == 0:
            at = rng.randrange(min(size, 4096))
        elif region == 1:
            at = max(0, size - 1 - rng.randrange(min(size, 4096)))
        else:
            at = rng.randrange(size)
        op = rng.randrange(6)
        applied += (BYTE_REGIONS[region], BYTE_OPS[op])
        if op == 0:
            buffer[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            buffer[at : at + 8] = bytes(rng.choice([0, 0xFF, 0x7F, 0x80]) for _ in range(8))
        elif op == 2:
            del buffer[at:]
        elif op == 3:
            length = rng.randrange(1, 256)
            buffer[at:at] = buffer[at : at + length]
        elif op == 4:
            buffer[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        else:
            del buffer[at : at + rng.randrange(1, 64)]
    return bytes(buffer)


# ---- the properties ---------------------------------------------------------------------

SUFFIXES = (".json", ".json", ".json", ".json", ".h5", ".keras")
FILES = [p for p in hf.real_model_files() if p.stat().st_size < 1_000_000]
FILE_BYTES = {p: p.read_bytes() for p in FILES}


def check_structural(seed: int, base_index: int, steps: int, suffix: str, version: str,
                     directory: Path, log: list[str] | None = None) -> str | None:
    """Mutate one base config, write it, analyse it; return the error text or None."""
    name, config, saved_version = BASES[base_index % len(BASES)]
    mutated = mutate_config(config, random.Random(seed), steps, log)
    path = directory / f"mutant{suffix}"
    try:
        hf.write_model(path, mutated, saved_version)
    except (ValueError, TypeError, OverflowError):
        return "unwritable"  # e.g. h5py refuses a NaN-free encoding: not graphcheck's concern
    return hf.analyse_in_process(path, version)


#: How long one HDF5 case may run in its child process before it counts as a hang.
# Past the reader's own deadline: graphcheck stops a hung libhdf5 child itself, and
# this harness only catches what that misses.
NATIVE_TIMEOUT = READ_DEADLINE_S + 5.0


def check_bytes(seed: int, file_index: int, steps: int, directory: Path,
                log: list[str] | None = None) -> str | None:
    """Mutate one real file's bytes and analyse it; HDF5 goes through a forked child.

    libhdf5 is native code: fuzzing found damaged files on which it loops forever
    (see docs/security.md), which no Python-level check can interrupt. HDF5 cases
    therefore run in a child; a child that hangs must be stuck inside h5py, which is
    reported as ``"native-hang"``; a hang anywhere else, or any bug, fails.
    """
    source = FILES[file_index % len(FILES)]
    data = mutate_bytes(FILE_BYTES[source], random.Random(seed), steps, log)
    path = directory / f"mutant{source.suffix}"
    path.write_bytes(data)
    if source.suffix != ".h5":
        return hf.analyse_in_process(path, "3.15.1")
    return _analyse_in_child(path, directory)


def _analyse_in_child(path: Path, directory: Path) -> str | None:
    import faulthandler
    import os
    import pickle

    result_file = directory / "child.result"
    stack_file = directory / "child.stack"
    result_file.unlink(missing_ok=True)
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        code = 0
        try:
            with open(stack_file, "w") as stack:
                faulthandler.dump_traceback_later(NATIVE_TIMEOUT, exit=True, file=stack)
                try:
                    outcome: Any = ("ok", hf.analyse_in_process(path, "3.15.1"))
                except BaseException as exc:  # noqa: BLE001 - shipped to the parent
                    outcome = ("bug", f"{type(exc).__name__}: {exc}"[:2000])
                faulthandler.cancel_dump_traceback_later()
            result_file.write_bytes(pickle.dumps(outcome))
        except BaseException:  # noqa: BLE001
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if not result_file.exists():
        stack = stack_file.read_text() if stack_file.exists() else ""
        assert "h5py" in stack, f"child died ({status}) outside h5py:\n{stack}"
        return "native-hang"
    kind, value = pickle.loads(result_file.read_bytes())
    assert kind == "ok", value
    return value


def examples_each(ci_budget: int, subjects: int) -> int:
    """Examples per base or file: the property's budget split evenly, at least one each.

    The budget is ``$GRAPHCHECK_FUZZ_EXAMPLES`` when set (the long run), else ``ci_budget``.
    """
    return max(1, int(os.environ.get(EXAMPLES_ENV) or ci_budget) // subjects)


def assert_exercised(seen: Counter[str], expected: dict[str, Sequence[Any]]) -> None:
    """Every value of every strategy came up at least once in the run."""
    missing = {kind: [v for v in values if seen[f"{kind}:{v}"] == 0]
               for kind, values in expected.items()}
    missing = {kind: values for kind, values in missing.items() if values}
    assert not missing, f"budget too small to exercise every strategy; never drawn: {missing}"


def fuzz_structural(base: int, count: int, seen: Counter[str]) -> None:
    """Run ``count`` structural mutants of one base; count formats, profiles and edits."""

    @settings(FUZZ, max_examples=count)
    @given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 6),
           suffix=st.sampled_from(SUFFIXES), version=st.sampled_from(KERAS_VERSIONS))
    def mutate_and_analyse(seed: int, steps: int, suffix: str, version: str) -> None:
        note(f"base {base}: {BASES[base][0]}")
        ops: list[str] = []
        with tempfile.TemporaryDirectory() as directory:
            check_structural(seed, base, steps, suffix, version, Path(directory), ops)
        seen.update([f"suffix:{suffix}", f"version:{version}", *(f"op:{op}" for op in ops)])

    mutate_and_analyse()


def fuzz_bytes(file: int, count: int, seen: Counter[str]) -> None:
    """Run ``count`` byte mutants of one file; count regions and edits."""

    @settings(FUZZ, max_examples=count)
    @given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 4))
    def mutate_and_analyse(seed: int, steps: int) -> None:
        note(f"file {file}: {FILES[file].name}")
        edits: list[str] = []
        with tempfile.TemporaryDirectory() as directory:
            check_bytes(seed, file, steps, Path(directory), edits)
        seen.update(f"{'region' if e in BYTE_REGIONS else 'op'}:{e}" for e in edits)

    mutate_and_analyse()


@pytest.mark.fuzz
def test_structural_mutations() -> None:
    """Mutated configs of every base analyse or raise a GraphcheckError with a one-line message."""
    seen: Counter[str] = Counter()
    count = examples_each(CI_STRUCTURAL_EXAMPLES, len(BASES))
    for base in range(len(BASES)):
        fuzz_structural(base, count, seen)
    assert_exercised(seen, {"suffix": SUFFIXES, "version": KERAS_VERSIONS, "op": STRUCTURAL_OPS})


@pytest.mark.fuzz
def test_byte_mutations() -> None:
    """Mutated bytes of every file analyse or raise a GraphcheckError with a one-line message."""
    seen: Counter[str] = Counter()
    count = examples_each(CI_BYTE_EXAMPLES, len(FILES))
    for file in range(len(FILES)):
        fuzz_bytes(file, count, seen)
    assert_exercised(seen, {"region": BYTE_REGIONS, "op": BYTE_OPS})


def test_cli_sample(tmp_path: Path) -> None:
    """A fixed sample of mutants through the CLI: exit 0 or 3, never a traceback."""
    rng = random.Random(20260611)
    paths = []
    for index in range(60):
        name, config, version = BASES[index % len(BASES)]
        mutated = mutate_config(config, rng, rng.randrange(1, 5))
        suffix = (".json", ".h5", ".keras")[index % 3]
        try:
            paths.append(hf.write_model(tmp_path / f"m{index}{suffix}", mutated, version))
        except (ValueError, TypeError, OverflowError):
            continue
    for index, source in enumerate(FILES):
        data = mutate_bytes(FILE_BYTES[source], rng, 2)
        path = tmp_path / f"b{index}{source.suffix}"
        path.write_bytes(data)
        paths.append(path)
    result = hf.run_cli("check", "--format", "json", *paths, timeout=300)
    assert result.returncode in (0, 1, 3), result.stderr[-3000:]  # 1: error findings, 3: unreadable
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    lines = result.stderr.splitlines()
    assert len(lines) == len(report["errors"])
    for line in lines:
        assert line.startswith("graphcheck: error: "), line
    assert len(report["models"]) + len(report["errors"]) == len(paths)
