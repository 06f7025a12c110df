"""Soak the static path with mutated real models for as long as asked.

Runs the mutators of ``tests/test_fuzz.py`` with fresh random seeds until the time is
up, in process: every case must analyse or raise a ``GraphcheckError`` with a one-line
message, within ``--case-timeout`` seconds. Anything else is a bug: its kind, seed
and traceback are printed, and the exit status is 1.

Run from the repository root::

    .venv/bin/python benchmarks/soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import test_fuzz as fuzz  # noqa: E402


class CaseTimeout(Exception):
    """A case ran past --case-timeout: a hang or a super-linear blow-up."""


def _alarm(_signum: int, _frame: object) -> None:
    raise CaseTimeout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--case-timeout", type=int, default=30)
    parser.add_argument("--seed", type=int, default=None, help="master seed (default: random)")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    args = parser.parse_args()
    master = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(master)
    counts: collections.Counter[str] = collections.Counter()
    bugs: list[dict[str, object]] = []
    signal.signal(signal.SIGALRM, _alarm)
    end = time.monotonic() + args.minutes * 60
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as directory:
        while time.monotonic() < end:
            kind = "structural" if rng.random() < 0.75 else "bytes"
            seed = rng.randrange(2**32)
            case = {"kind": kind, "seed": seed}
            signal.alarm(args.case_timeout)
            try:
                if kind == "structural":
                    case.update(base=rng.randrange(10_000), steps=rng.randrange(1, 7),
                                suffix=rng.choice(fuzz.SUFFIXES),
                                version=rng.choice(fuzz.KERAS_VERSIONS))
                    outcome = fuzz.check_structural(
                        seed, case["base"], case["steps"], case["suffix"], case["version"],
                        Path(directory))
                else:
                    case.update(file=rng.randrange(10_000), steps=rng.randrange(1, 5))
                    outcome = fuzz.check_bytes(seed, case["file"], case["steps"], Path(directory))
                result = "analysed" if outcome is None else (
                    outcome if outcome in ("unwritable", "native-hang") else "graphcheck_error")
            except CaseTimeout:
                result = "timeout"
                bugs.append({**case, "error": "timeout"})
            except Exception:  # noqa: BLE001 - anything but a GraphcheckError is a bug
                result = "bug"
                bugs.append({**case, "error": traceback.format_exc(limit=6)})
            finally:
                signal.alarm(0)
            counts[f"{kind}:{result}"] += 1
            counts["total"] += 1
    elapsed = time.monotonic() - started
    summary = {"master_seed": master, "seconds": round(elapsed, 1), "counts": dict(counts),
               "bugs": bugs[:50], "python": sys.version.split()[0], "cpus": os.cpu_count()}
    print(json.dumps(summary, indent=2, sort_keys=True))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
