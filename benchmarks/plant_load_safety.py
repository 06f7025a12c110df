"""Plant one bug at a time in a copy of graphcheck's load-safety rules and see which case
of ``tests/rules/test_load_safety_cases.py`` fails: every deletion below must be caught.

    .venv/bin/python benchmarks/plant_load_safety.py            # every plant (~10 min on 2 cores)
    .venv/bin/python benchmarks/plant_load_safety.py GC402      # the plants whose label has GC402

Each plant deletes one branch of a rule (or of the data or reader it reads): the
source text it replaces must occur exactly once, so a plant that no longer applies
fails loudly instead of passing. Prints one line per plant; exit 1 if any went uncaught.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LS = "graphcheck/rules/load_safety.py"
TH = "graphcheck/rules/threats.py"
CT = "graphcheck/readers/containers.py"
ST = "graphcheck/rules/stored.py"

#: (label, file, text deleted or replaced, replacement)
PLANTS = [
 ("GC402 call_effect branch", LS, "if _function_like(name) or call_effect(module, name) or top == \"builtins\":", "if _function_like(name) or top == \"builtins\":"),
 ("GC402 builtins branch", LS, "if _function_like(name) or call_effect(module, name) or top == \"builtins\":", "if _function_like(name) or call_effect(module, name):"),
 ("GC402 function-like branch", LS, "if _function_like(name) or call_effect(module, name) or top == \"builtins\":", "if call_effect(module, name) or top == \"builtins\":"),
 ("GC402 marker skip", LS, "if not isinstance(name, str) or name in _MARKERS or \"config\" not in value:", "if not isinstance(name, str) or \"config\" not in value:"),
 ("GC402 no-config skip", LS, "if not isinstance(name, str) or name in _MARKERS or \"config\" not in value:", "if not isinstance(name, str) or name in _MARKERS:"),
 ("GC401 __lambda__ branch", LS, "        if value.get(\"class_name\") == \"__lambda__\":", "        if False:"),
 ("GC401 Lambda-layer skip", LS, "            if item.key == \"function\" and id(value) in lambdas:\n                continue", "            pass"),
 ("GC401 Keras 2 function_type lambda", LS, "(value.get(\"function_type\") == \"lambda\" and not _is_lambda_config(value)) or (", "("),
 ("GC403 Keras 2 references", LS, "            references.extend(_keras2_lambda_references(value))", "            pass"),
 ("GC403 builtins effects", TH, "    if top in (\"builtins\", \"\") and base in _BUILTIN_EFFECTS:", "    if False:"),
 ("GC403 numpy file functions", TH, "    if top in (\"numpy\", \"np\") and base in (", "    if False and base in ("),
 ("GC403 Keras non-modelling functions", TH, "    if base in _KERAS_EFFECTS:", "    if False:"),
 ("GC404 registered-name branch", LS, "        elif registered not in (None, name, value.get(\"class_name\")):", "        elif False:"),
 ("GC404 wrapped layers (is_layer only)", LS, "    for item in ctx.walk.builders:\n        value = item.value\n        name = value.get(\"class_name\")", "    for item in (i for i in ctx.walk.builders if i.is_layer):\n        value = item.value\n        name = value.get(\"class_name\")"),
 ("GC405 Python-calling ops", TH, "(re.compile(r\"(^|\\.)(py_function|numpy_function|py_func|eager_py_func)$\"), \"calls Python code\"),", ""),
 ("GC405 SlicingOpLambda", LS, "            \"SlicingOpLambda\",\n", ""),
 ("GC406 IntegerLookup", LS, "_LOOKUP_CLASSES = (\"StringLookup\", \"IntegerLookup\",", "_LOOKUP_CLASSES = (\"StringLookup\","),
 ("GC406 wrapped layers", LS, "        if name not in _LOOKUP_CLASSES:", "        if not item.is_layer or name not in _LOOKUP_CLASSES:"),
 ("GC407 whole rule", LS, "            yield _finding(ctx, item, target=target)", "            yield from ()"),
 ("GC407 wrapped layers", LS, "        if item.value.get(\"class_name\") == \"TFSMLayer\":", "        if item.is_layer and item.value.get(\"class_name\") == \"TFSMLayer\":"),
 ("GC411 declared-size note (reader)", CT, "    if declared >= HUGE_DECLARED_BYTES and declared > DECLARED_RATIO * max(stored, 1):", "    if False:"),
 ("GC408 backslash", LS, "            if \"/\" in name or \"\\\\\" in name or \"..\" in parts:", "            if \"/\" in name or \"..\" in parts:"),
 ("GC408 config name", LS, "        if is_mapping(config):\n            names.add(config.get(\"name\"))", "        pass"),
 ("GC409 ratio branch", CT, "                notes.append(ContainerNote(kind, name, _inflation(size, packed)))", "                pass"),
 ("GC409 Keras 3.15.1's member floor", CT, "kind = \"zip-size\" if size > KERAS_MEMBER_FLOOR_BYTES else \"zip-inflation\"", "kind = \"zip-size\""),
 ("GC409 members together", CT, "    if total > BOMB_FLOOR_BYTES and all(", "    if False and all("),
 ("GC409 symbolic links", CT, "        if info.create_system == 3 and stat.S_ISLNK(mode):", "        if False:"),
 ("GC409 drive letters", CT, " or (len(name) > 1 and name[1] == \":\")", ""),
 ("GC410 soft links", LS, "    kinds = (\"hdf5-external-link\", \"hdf5-soft-link\",", "    kinds = (\"hdf5-external-link\","),
 ("GC410 virtual datasets", LS, " \"hdf5-external-storage\", \"hdf5-virtual\")", " \"hdf5-external-storage\")"),
 ("GC411 declared size", LS, "    yield from container_findings(ctx, \"hdf5-declared-size\", \"hdf5-objects\")", "    yield from container_findings(ctx, \"hdf5-objects\")"),
 ("GC412 weight product", LS, "    if total >= MAX_WEIGHT_ELEMENTS:\n        return \"its weight shape\", total", "    if False:\n        return \"its weight shape\", total"),
 ("GC412 shape keys", LS, "                if _is_int(dim) and abs(dim) >= MAX_DIMENSION:", "                if False:"),
 ("GC412 built input width", LS, "    inner = config.get(\"input_dim\") if _is_int(config.get(\"input_dim\")) else _last_input_dim(build)", "    inner = config.get(\"input_dim\") if _is_int(config.get(\"input_dim\")) else None"),
 ("GC412 RNN cells and wrapped layers", ST, "SUBLAYER_KEYS = frozenset({\"layer\", \"forward_layer\", \"backward_layer\", \"cell\", \"cells\"})", "SUBLAYER_KEYS = frozenset({\"layer\", \"forward_layer\", \"backward_layer\"})"),
]


def main() -> None:
    only = sys.argv[1:]
    uncaught = []
    for label, rel, old, new in PLANTS:
        if only and not any(o in label for o in only):
            continue
        with tempfile.TemporaryDirectory(prefix="graphcheck-plant-") as tmp:
            tree = Path(tmp) / "tree"
            shutil.copytree(ROOT, tree, symlinks=True, ignore=shutil.ignore_patterns(
                ".git", "__pycache__", ".cache", ".matrix"))
            text = (tree / rel).read_text()
            if text.count(old) != 1:
                raise SystemExit(f"{label}: the text to replace occurs {text.count(old)} times in {rel}")
            (tree / rel).write_text(text.replace(old, new))
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "tests/rules/test_load_safety_cases.py"],
                cwd=tree, capture_output=True, text=True, check=False,
                env={**__import__("os").environ, "PYTHONPATH": str(tree)},
            )
        failed = sorted(set(re.findall(r"FAILED tests/rules/test_load_safety_cases.py::(\S+)",
                                       done.stdout)))
        if not failed:
            uncaught.append(label)
        print(f"{label}: {len(failed)} failed" + (f", e.g. {failed[0]}" if failed else " (UNCAUGHT)"),
              flush=True)
    if uncaught:
        raise SystemExit(f"uncaught: {uncaught}")


if __name__ == "__main__":
    main()
