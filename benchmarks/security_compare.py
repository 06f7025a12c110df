"""graphcheck against modelscan on the load-safety samples: what each detects, false
positives, time per file.

    .venv/bin/python benchmarks/security_compare.py --modelscan-python /tmp/security-modelscan/bin/python

modelscan (``pip install "modelscan[tensorflow]==0.8.8"``) needs TensorFlow to scan
``.keras`` files at all; install it in its own virtual environment and name its
Python with ``--modelscan-python``. It never goes into graphcheck's environment or CI.

Samples: every technique of ``tests/load_safety_samples.py`` in every format it
applies to (payloads only name a harmless temporary file or a module that would
write a marker), and clean files written by Keras 3 and tf_keras
(``tests/load_safety_keras.py``) plus ``samples/``. Both tools run in process, one
file after the other, timed per file after start-up (modelscan's start-up imports
TensorFlow; graphcheck's does not). Results are printed as a Markdown table and
written as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

_MODELSCAN = """\
import json, sys, time
start = time.perf_counter()
from modelscan.modelscan import ModelScan
from modelscan.settings import DEFAULT_SETTINGS
startup = time.perf_counter() - start
out = {"startup_s": startup, "files": {}}
for path in sys.argv[1:]:
    scanner = ModelScan(settings=DEFAULT_SETTINGS)
    began = time.perf_counter()
    try:
        report = scanner.scan(path)
        issues = report.get("issues", [])
        errors = report.get("errors", [])
        skipped = report.get("summary", {}).get("skipped", {}).get("skipped_files", [])
        out["files"][path] = {"issues": len(issues), "errors": len(errors), "skipped": len(skipped),
                              "time_s": time.perf_counter() - began,
                              "detail": [str(i.get("description", ""))[:160] for i in issues][:3]}
    except Exception as exc:
        out["files"][path] = {"issues": 0, "errors": 1, "skipped": 0, "time_s": time.perf_counter() - began,
                              "detail": [f"{type(exc).__name__}: {exc}"[:160]]}
print(json.dumps(out))
"""


def build(directory: Path) -> tuple[dict[str, tuple[str, Path]], list[Path]]:
    """(technique samples by key -> (expected rule, path), clean files)."""
    import load_safety_samples as samples

    secret = directory / "harmless.txt"
    secret.write_text("harmless\n")
    malicious = {}
    for technique, (rule, formats) in samples.TECHNIQUES.items():
        for fmt in formats:
            malicious[f"{technique}.{fmt}"] = (
                rule,
                samples.write_sample(technique, fmt, directory, secret),
            )
    clean_dir = directory / "clean"
    clean_dir.mkdir()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    subprocess.run(
        [sys.executable, str(ROOT / "tests" / "load_safety_keras.py"), str(clean_dir)],
        check=True,
        env=env,
        capture_output=True,
        cwd=clean_dir,
    )
    clean = [Path(p) for p in json.loads((clean_dir / "results.json").read_text())["files"]]
    clean += sorted(
        p for p in (ROOT / "samples").iterdir() if p.suffix in (".h5", ".keras", ".json")
    )
    return malicious, clean


def run_graphcheck(paths: list[Path]) -> dict[str, dict]:
    start = time.perf_counter()
    from graphcheck.api import load
    from graphcheck.errors import GraphcheckError
    from graphcheck.gate_config import GateConfig
    from graphcheck.rules.runner import run_rules

    config = GateConfig(select=("load-safety",), keras_version="3.15.1")
    startup = time.perf_counter() - start
    results: dict[str, dict] = {"__startup__": {"startup_s": startup}}
    for path in paths:
        began = time.perf_counter()
        try:
            findings = run_rules(load(path).analyse("3.15.1"), config)
            rules = sorted({f.rule for f in findings})
            error = None
        except GraphcheckError as exc:
            rules, error = [], str(exc)
        results[str(path)] = {"rules": rules, "error": error, "time_s": time.perf_counter() - began}
    return results


def run_modelscan(python: str, paths: list[Path]) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(
        [python, "-c", _MODELSCAN, *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modelscan-python", required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graphcheck-security-") as tmp:
        directory = Path(tmp)
        malicious, clean = build(directory)
        paths = [p for _, p in malicious.values()] + clean
        ours = run_graphcheck(paths)
        theirs = run_modelscan(args.modelscan_python, paths)
        rows = []
        for key, (rule, path) in sorted(malicious.items()):
            g, m = ours[str(path)], theirs["files"][str(path)]
            rows.append(
                {
                    "sample": key,
                    "rule": rule,
                    "graphcheck": rule in g["rules"],
                    "modelscan": m["issues"] > 0,
                    "graphcheck_s": g["time_s"],
                    "modelscan_s": m["time_s"],
                    "modelscan_note": "; ".join(m["detail"])[:120],
                }
            )
        clean_rows = []
        for path in clean:
            g, m = ours[str(path)], theirs["files"][str(path)]
            clean_rows.append(
                {
                    "file": path.name,
                    "graphcheck_fp": bool(g["rules"]),
                    "modelscan_fp": m["issues"] > 0,
                    "graphcheck_s": g["time_s"],
                    "modelscan_s": m["time_s"],
                }
            )
    print("| sample | rule | graphcheck | modelscan | graphcheck ms | modelscan ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['sample']} | {r['rule']} | {'yes' if r['graphcheck'] else 'no'} | "
            f"{'yes' if r['modelscan'] else 'no'} | {r['graphcheck_s'] * 1000:.1f} | {r['modelscan_s'] * 1000:.1f} |"
        )
    print()
    print(
        f"detected: graphcheck {sum(r['graphcheck'] for r in rows)}/{len(rows)}, "
        f"modelscan {sum(r['modelscan'] for r in rows)}/{len(rows)}"
    )
    print(
        f"false positives on {len(clean_rows)} clean files: graphcheck "
        f"{sum(r['graphcheck_fp'] for r in clean_rows)}, modelscan {sum(r['modelscan_fp'] for r in clean_rows)}"
    )
    every = rows + clean_rows
    print(
        f"median time per file: graphcheck {sorted(r['graphcheck_s'] for r in every)[len(every) // 2] * 1000:.1f} ms, "
        f"modelscan {sorted(r['modelscan_s'] for r in every)[len(every) // 2] * 1000:.1f} ms; start-up: "
        f"graphcheck {ours['__startup__']['startup_s']:.2f} s, modelscan {theirs['startup_s']:.2f} s"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "techniques": rows,
                    "clean": clean_rows,
                    "startup": {
                        "graphcheck": ours["__startup__"]["startup_s"],
                        "modelscan": theirs["startup_s"],
                    },
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
