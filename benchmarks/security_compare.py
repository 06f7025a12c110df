"""graphcheck against modelscan and modelaudit on the load-safety samples: what each
detects, false positives, time per file.

    .venv/bin/python benchmarks/security_compare.py \
        --modelscan-python /tmp/security-modelscan/bin/python \
        --modelaudit-python /tmp/security-modelaudit/bin/python

Each other scanner lives in its own virtual environment, never in graphcheck's or
CI; name its Python with ``--modelscan-python`` / ``--modelaudit-python`` (either may
be left out). modelscan (``pip install "modelscan[tensorflow]==0.8.8"``) needs
TensorFlow to scan ``.keras`` files at all. modelaudit (``pip install
"modelaudit[h5]==0.2.54"``) runs with its telemetry off; a file counts as flagged
by it when it reports an issue of severity warning or critical.

Samples: every technique of ``tests/load_safety_samples.py`` in every format it
applies to (payloads only name a harmless temporary file or a module that would
write a marker), and clean files written by Keras 3 and tf_keras
(``tests/load_safety_keras.py``) plus ``samples/``. Every tool runs in process, one
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
out = {"startup_s": startup, "version": __import__("importlib.metadata").metadata.version("modelscan"), "files": {}}
for path in sys.argv[1:]:
    scanner = ModelScan(settings=DEFAULT_SETTINGS)
    began = time.perf_counter()
    try:
        report = scanner.scan(path)
        issues = report.get("issues", [])
        errors = report.get("errors", [])
        out["files"][path] = {"issues": len(issues), "errors": len(errors),
                              "time_s": time.perf_counter() - began,
                              "detail": [str(i.get("description", ""))[:160] for i in issues][:3]}
    except Exception as exc:
        out["files"][path] = {"issues": 0, "errors": 1, "time_s": time.perf_counter() - began,
                              "detail": [f"{type(exc).__name__}: {exc}"[:160]]}
print(json.dumps(out))
"""

_MODELAUDIT = """\
import json, logging, os, sys, time
os.environ["PROMPTFOO_DISABLE_TELEMETRY"] = "1"
logging.disable(logging.CRITICAL)
start = time.perf_counter()
from modelaudit.core import scan_model_directory_or_file
startup = time.perf_counter() - start
out = {"startup_s": startup, "version": __import__("importlib.metadata").metadata.version("modelaudit"), "files": {}}
for path in sys.argv[1:]:
    began = time.perf_counter()
    try:
        result = scan_model_directory_or_file(path)
        flagged = [i for i in result.issues
                   if str(getattr(i.severity, "value", i.severity)).lower() in ("warning", "critical")]
        out["files"][path] = {"issues": len(flagged), "errors": int(bool(result.has_errors)),
                              "time_s": time.perf_counter() - began,
                              "detail": [str(i.message)[:160] for i in flagged][:3]}
    except Exception as exc:
        out["files"][path] = {"issues": 0, "errors": 1, "time_s": time.perf_counter() - began,
                              "detail": [f"{type(exc).__name__}: {exc}"[:160]]}
print(json.dumps(out))
"""

#: Other scanners: command-line option -> (name, script run in its environment).
SCANNERS = {
    "modelscan": _MODELSCAN,
    "modelaudit": _MODELAUDIT,
}


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


def run_scanner(script: str, python: str, paths: list[Path]) -> dict:
    """Run another scanner's ``script`` in its own environment on every path."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               PROMPTFOO_DISABLE_TELEMETRY="1")
    env.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory(prefix="graphcheck-scanner-") as cwd:
        done = subprocess.run(
            [python, "-c", script, *map(str, paths)],
            capture_output=True,
            text=True,
            env=env,
            timeout=3600,
            check=True,
            cwd=cwd,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in SCANNERS:
        parser.add_argument(f"--{name}-python", help=f"the Python of {name}'s own environment")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    chosen = {n: getattr(args, f"{n}_python") for n in SCANNERS if getattr(args, f"{n}_python")}
    with tempfile.TemporaryDirectory(prefix="graphcheck-security-") as tmp:
        directory = Path(tmp)
        malicious, clean = build(directory)
        paths = [p for _, p in malicious.values()] + clean
        ours = run_graphcheck(paths)
        theirs = {name: run_scanner(SCANNERS[name], python, paths) for name, python in chosen.items()}
    names = ["graphcheck", *theirs]
    versions = {"graphcheck": "", **{n: f" {t['version']}" for n, t in theirs.items()}}

    def flagged(name: str, path: Path, rule: str | None) -> bool:
        if name == "graphcheck":
            rules = ours[str(path)]["rules"]
            return rule in rules if rule else bool(rules)
        return theirs[name]["files"][str(path)]["issues"] > 0

    def seconds(name: str, path: Path) -> float:
        source = ours if name == "graphcheck" else theirs[name]["files"]
        return float(source[str(path)]["time_s"])

    rows = [
        {"sample": key, "rule": rule, **{n: flagged(n, path, rule) for n in names},
         **{f"{n}_s": seconds(n, path) for n in names},
         **{f"{n}_note": "; ".join(theirs[n]["files"][str(path)]["detail"])[:160] for n in theirs}}
        for key, (rule, path) in sorted(malicious.items())
    ]
    clean_rows = [
        {"file": path.name, **{f"{n}_fp": flagged(n, path, None) for n in names},
         **{f"{n}_s": seconds(n, path) for n in names},
         **{f"{n}_note": "; ".join(theirs[n]["files"][str(path)]["detail"])[:160] for n in theirs}}
        for path in clean
    ]
    print("| sample | rule | " + " | ".join(f"{n}{versions[n]}" for n in names) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in names) + " |")
    for r in rows:
        print(f"| {r['sample']} | {r['rule']} | "
              + " | ".join("yes" if r[n] else "no" for n in names) + " |")
    print()
    for n in names:
        every = [r[f"{n}_s"] for r in rows + clean_rows]
        startup = ours["__startup__"]["startup_s"] if n == "graphcheck" else theirs[n]["startup_s"]
        print(f"{n}{versions[n]}: detected {sum(r[n] for r in rows)}/{len(rows)}, false positives "
              f"{sum(r[f'{n}_fp'] for r in clean_rows)}/{len(clean_rows)}, median "
              f"{_median(every) * 1000:.1f} ms per file, start-up {startup:.2f} s")
    for n in theirs:
        for r in rows:
            if r[n]:
                print(f"  {n} on {r['sample']}: {r[f'{n}_note']}")
        for r in clean_rows:
            if r[f"{n}_fp"]:
                print(f"  {n} false positive on {r['file']}: {r[f'{n}_note']}")
    if args.json:
        args.json.write_text(json.dumps({
            "techniques": rows,
            "clean": clean_rows,
            "startup": {"graphcheck": ours["__startup__"]["startup_s"],
                        **{n: t["startup_s"] for n, t in theirs.items()}},
            "versions": versions,
        }, indent=2))


if __name__ == "__main__":
    main()
