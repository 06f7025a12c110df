"""Measure graphcheck against Keras and against the floor; write docs/performance.md.

Every measurement is a fresh subprocess, timed with ``time.perf_counter`` and reaped
with ``os.wait4`` for its own peak RSS (``ru_maxrss``) and CPU time. Each is run
several times and the median is reported (the peak RSS is the largest of the runs).

Benchmarks:

1. keras.applications models built with ``weights=None`` (random weights, no download)
   and saved as .keras and .h5 (``benchmarks/fixtures.py``): ``graphcheck MODEL
   --format json``, the floor (``benchmarks/floor.py``), ``keras.models.load_model``
   + ``model.summary()``, ``keras.utils.plot_model`` and ``graphcheck render``.
2. Synthetic configs of 1,000, 10,000 and 100,000 layers (``benchmarks/synthetic.py``).
3. A directory of 1,000 small models: ``graphcheck check DIR --jobs 1`` and ``--jobs 2``,
   as JSON and as text.

graphcheck's bytecode is written first (``compileall``), as ``pip install`` does: an
editable install has none until Python writes it on first import, which it never
does when ``PYTHONDONTWRITEBYTECODE`` is set, and then every measured run would
compile graphcheck's modules again (about 25 ms) while the floor's imports, all from
site-packages, load bytecode.

Fixtures go to ``benchmarks/.cache/`` (git-ignored; about 6 GB with ConvNeXtXLarge).
Run from the repository root::

    .venv/bin/python benchmarks/run.py            # everything, about 15 minutes
    .venv/bin/python benchmarks/run.py --quick    # fewer runs and models, about 4 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from fixtures import APPLICATIONS  # noqa: E402

from graphcheck.readers import READ_AHEAD  # noqa: E402

PYTHON = sys.executable
GRAPHCHECK = str(Path(PYTHON).with_name("graphcheck"))
CACHE = ROOT / "benchmarks" / ".cache"
SAMPLES = ROOT / "samples"
HEADLINE = "EfficientNetB7"
QUICK_APPLICATIONS = ("MobileNetV2", "EfficientNetB7", "ConvNeXtXLarge")

KERAS_LOAD = """
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
model = keras.models.load_model(sys.argv[1], compile=False)
model.summary(print_fn=lambda *a, **k: None)
"""

KERAS_PLOT = """
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
model = keras.models.load_model(sys.argv[1], compile=False)
keras.utils.plot_model(model, to_file=sys.argv[2])
"""


@dataclass
class Result:
    """The runs of one command: wall and CPU seconds, peak RSS in KiB, failures."""

    command: list[str]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.wall)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)

    @property
    def peak_mib(self) -> float:
        return max(self.rss_kib) / 1024


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def run_once(command: list[str], timeout: float) -> tuple[float, float, int, int, str]:
    """One run: (wall s, CPU s, peak RSS KiB, exit status, stderr tail)."""
    stderr_path = CACHE / "stderr.txt"
    with open(stderr_path, "wb") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=stderr, env=_env())
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                status = -9
                break
            time.sleep(0.001)
        wall = time.perf_counter() - start
    process.returncode = 0  # reaped by wait4; stop Popen from waiting again
    code = os.waitstatus_to_exitcode(status) if status != -9 else -9
    tail = stderr_path.read_text(errors="replace")[-300:].strip()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, code, tail


def measure(command: list[str], runs: int, timeout: float = 600.0,
            ok_codes: tuple[int, ...] = (0, 1)) -> Result:
    """Run ``command`` ``runs`` times; per-run wall, CPU and peak RSS (os.wait4)."""
    result = Result(command)
    for _ in range(runs):
        wall, cpu, rss, code, tail = run_once(command, timeout)
        if code not in ok_codes:
            result.error = f"exit {code}: {tail.splitlines()[-1] if tail else ''}"[:200]
            return result
        result.wall.append(wall)
        result.cpu.append(cpu)
        result.rss_kib.append(rss)
    return result


# ---- fixtures ----

def build_applications(names: tuple[str, ...]) -> dict[str, dict[str, Path]]:
    """Build missing keras.applications fixtures (one process each); return paths."""
    outdir = CACHE / "apps"
    for name in names:
        if not ((outdir / f"{name}.keras").exists() and (outdir / f"{name}.h5").exists()):
            print(f"building {name} (weights=None) ...", file=sys.stderr)
            subprocess.run([PYTHON, str(ROOT / "benchmarks" / "fixtures.py"), str(outdir), name],
                           check=True, env=_env())
    return {n: {"keras": outdir / f"{n}.keras", "h5": outdir / f"{n}.h5"} for n in names}


def build_synthetic(sizes: tuple[int, ...]) -> dict[int, tuple[Path, int]]:
    """Write the synthetic .keras configs; return path and layer count by size.

    In a subprocess: a child's ru_maxrss starts at this process's RSS when it forks, so
    this process must never hold the 100,000-layer config (about 300 MB) itself.
    """
    outdir = CACHE / "synthetic"
    printed = subprocess.run(
        [PYTHON, str(ROOT / "benchmarks" / "synthetic.py"), str(outdir),
         "--layers", *map(str, sizes)],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    counts = [int(line.split(": ")[1].split()[0]) for line in printed if line.endswith(" layers")]
    return {size: (outdir / f"synthetic_{size}.keras", count) for size, count in zip(sizes, counts)}


def build_directory(count: int) -> Path:
    """``count`` small models: the samples copied round-robin, JSON ones renamed inside.

    An architecture JSON goes in a folder of its own as ``model.json``: a directory
    search finds JSON models only by that name (``graphcheck.discovery``).
    """
    directory = CACHE / f"dir_{count}"
    sources = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".h5", ".keras", ".json"))
    copies = []
    for i in range(count):
        source = sources[i % len(sources)]
        name = f"model_{i:04d}_{source.name}"
        if source.suffix == ".json":
            name = f"model_{i:04d}_{source.stem}/model.json"
        copies.append((i, source, directory / name))
    if len(list(directory.glob("*"))) == count and all(t.exists() for _, _, t in copies):
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for i, source, target in copies:
        if source.suffix == ".json":  # a variant, not only a copy: the model gets its own name
            config = json.loads(source.read_text())
            if isinstance(config.get("config"), dict):
                config["config"]["name"] = f"variant_{i}"
            target.parent.mkdir()
            target.write_text(json.dumps(config))
        else:
            shutil.copyfile(source, target)
    return directory


def compile_bytecode() -> None:
    """Write graphcheck's bytecode, as installing it would (see the module docstring)."""
    import compileall

    compileall.compile_dir(ROOT / "graphcheck", quiet=1)


# ---- report ----

def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    versions = subprocess.run(
        [PYTHON, "-c", "import keras, tensorflow, networkx, h5py, click; print(keras.__version__, "
         "tensorflow.__version__, networkx.__version__, h5py.__version__, click.__version__)"],
        capture_output=True, text=True, env=_env(), check=False,
    ).stdout.split()
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    dot = subprocess.run(["dot", "-V"], capture_output=True, text=True, check=False).stderr.strip()
    names = ("keras", "tensorflow", "networkx", "h5py", "click")
    return {
        "cpu": f"{os.cpu_count()} cores ({cpu}), {int(memory) / 1024 / 1024:.0f} GB memory, no GPU",
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": ", ".join(f"{n} {v}" for n, v in zip(names, versions)),
        "graphviz": dot,
    }


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def fmt(result: Result, what: str = "time") -> str:
    if not result.ok:
        return "-" if what == "rss" else f"failed ({result.error})"
    if what == "rss":
        return f"{result.peak_mib:,.0f} MiB"
    return f"{result.median:.2f} s"


def ratio(slow: Result, fast: Result, what: str = "time") -> str:
    if not (slow.ok and fast.ok):
        return "-"
    if what == "rss":
        return f"{slow.peak_mib / fast.peak_mib:.1f}x"
    return f"{slow.median / fast.median:.1f}x"


def shell(command: list[str]) -> str:
    return " ".join(str(Path(c).relative_to(ROOT)) if str(c).startswith(str(ROOT)) else str(c)
                    for c in command)


def main() -> int:  # noqa: PLR0915 - one straight script, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="Fewer runs, three applications, no 100,000-layer model.")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--apps", nargs="+", choices=APPLICATIONS, metavar="NAME",
                        help="Only these keras.applications models (default: all, or three "
                        "with --quick).")
    parser.add_argument("--sizes", nargs="+", type=int, metavar="LAYERS",
                        help="Synthetic model sizes (default: 1000 10000 100000; --quick: "
                        "1000 10000).")
    args = parser.parse_args()
    quick = args.quick
    runs = 3 if quick else 5
    keras_runs = 1 if quick else 3
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M")
    loads = [load()]

    apps = build_applications(tuple(args.apps or (QUICK_APPLICATIONS if quick else APPLICATIONS)))
    sizes = tuple(args.sizes or ((1000, 10000) if quick else (1000, 10000, 100000)))
    synth = build_synthetic(sizes)
    directory = build_directory(1000)
    compile_bytecode()
    print(f"fixtures ready; load {load()}", file=sys.stderr)

    def gc_json(path: Path) -> list[str]:
        return [GRAPHCHECK, str(path), "--format", "json"]

    def floor(path: Path) -> list[str]:
        return [PYTHON, str(ROOT / "benchmarks" / "floor.py"), str(path)]

    # 1. applications
    rows = []
    for name, files in apps.items():
        for kind, path in files.items():
            heavy = name == HEADLINE
            row: dict[str, Any] = {"name": name, "kind": kind, "path": path,
                                   "mib": path.stat().st_size / 2**20}
            row["graphcheck"] = measure(gc_json(path), runs)
            row["floor"] = measure(floor(path), runs)
            row["keras"] = measure([PYTHON, "-c", KERAS_LOAD, str(path)],
                                   keras_runs if heavy else 1, ok_codes=(0,))
            if kind == "keras":
                plot = CACHE / f"plot_{name}.pdf"
                row["plot"] = measure([PYTHON, "-c", KERAS_PLOT, str(path), str(plot)], 1,
                                      ok_codes=(0,))
                row["render"] = measure([GRAPHCHECK, "render", str(path), "-o",
                                         str(CACHE / f"render_{name}.pdf")], runs if heavy else 1,
                                        ok_codes=(0,))
            rows.append(row)
            print(f"{name}.{kind}: graphcheck {fmt(row['graphcheck'])}, floor {fmt(row['floor'])}, "
                  f"keras {fmt(row['keras'])}; load {load()}", file=sys.stderr)
    loads.append(load())

    # 1b. render EfficientNetB7 as PDF and SVG
    head = apps[HEADLINE]["keras"]
    render_pdf = measure([GRAPHCHECK, "render", str(head), "-o", str(CACHE / "head.pdf")], runs,
                         ok_codes=(0,))
    render_svg = measure([GRAPHCHECK, "render", str(head), "-o", str(CACHE / "head.svg")], runs,
                         ok_codes=(0,))
    render_dot = measure([GRAPHCHECK, "render", str(head), "-o", str(CACHE / "head.dot")], runs,
                         ok_codes=(0,))

    # 2. synthetic
    synth_rows = []
    for size, (path, layers) in synth.items():
        count = 3 if size >= 100000 else runs
        synth_rows.append({"size": size, "layers": layers, "path": path,
                           "graphcheck": measure(gc_json(path), 1 if quick else count),
                           "floor": measure(floor(path), 1 if quick else count)})
        print(f"synthetic {size}: {fmt(synth_rows[-1]['graphcheck'])}; load {load()}",
              file=sys.stderr)
    loads.append(load())

    # 3. a directory of 1,000 models, and the floor over the same files in one process
    files = sorted(str(p) for p in directory.rglob("*") if p.is_file())
    dir_floor = measure([PYTHON, str(ROOT / "benchmarks" / "floor.py"), *files], 1 if quick else 3)
    dir_rows = []
    for output_format in ("json", "text"):
        for jobs in (1, 2):
            command = [GRAPHCHECK, "check", str(directory), "--jobs", str(jobs),
                       "--format", output_format]
            dir_rows.append((jobs, command, measure(command, 1 if quick else 3)))
    loads.append(load())

    write_report(args.output, quick, started, loads, rows, (render_pdf, render_svg, render_dot),
                 synth_rows, dir_rows, directory, dir_floor)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _arguments() -> str:
    """This run's command-line arguments, as the report names the command."""
    return "".join(f" {shlex.quote(arg)}" for arg in sys.argv[1:])


def _jobs_bound(dir_rows: list[tuple[int, list[str], Result]]) -> list[str]:
    """Why --jobs N is not 1/N of one job on this machine: a run cannot take less wall
    time than its CPU time over the cores, and one job already overlaps its reader child."""
    cores = os.cpu_count() or 1
    said = []
    for jobs, command, result in dir_rows:
        if jobs > 1 and result.ok:
            said.append(f"{command[-1]}: {result.median_cpu:.1f} s of CPU over {cores} cores is "
                        f"{result.median_cpu / cores:.2f} s, against {result.median:.2f} s of wall")
    if not said:
        return []
    return ["", f"With {cores} cores, `--jobs 2` is bound by CPU time: " + "; ".join(said) + "."]


def write_report(output: Path, quick: bool, started: str, loads: list[str], rows: list[dict[str, Any]],
                 renders: tuple[Result, Result, Result], synth_rows: list[dict[str, Any]],
                 dir_rows: list[tuple[int, list[str], Result]], directory: Path,
                 dir_floor: Result) -> None:
    kept = _kept_sections(output)
    info = machine()
    head = {r["kind"]: r for r in rows if r["name"] == HEADLINE}
    lines = [
        "# Performance",
        "",
        "Measured by `benchmarks/run.py` (see `benchmarks/README.md`). Every number is a fresh",
        "process: the median wall time of several runs, and the largest peak RSS of those runs",
        "(`ru_maxrss` from `os.wait4`; the runner itself stays under 30 MB, the least a child",
        "can report). CPU is user + system seconds of the same runs.",
        "",
        f"- Machine: {info['cpu']}; {info['os']}",
        f"- Python {info['python']}; {info['packages']}; {info['graphviz']}",
        f"- Run: `.venv/bin/python benchmarks/run.py{_arguments()}`, started {started}; "
        f"1-minute load average at the start and after each section: {', '.join(loads)} "
        "(other work was running on the machine; wall times are noisier than CPU times)",
        "- graphcheck's bytecode is compiled before measuring, as installing it would: the",
        "  editable install measured here has none of its own, and `PYTHONDONTWRITEBYTECODE`",
        "  may keep Python from writing it (then every run compiles graphcheck again, ~25 ms)",
        "",
        f"## Headline: {HEADLINE} (816 layers)",
        "",
        "| file | graphcheck `--format json` | floor | `load_model` + `summary()` | graphcheck faster | "
        "graphcheck peak RSS | `load_model` peak RSS | memory ratio | graphcheck / floor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, row in head.items():
        g, f, k = row["graphcheck"], row["floor"], row["keras"]
        lines.append(
            f"| {HEADLINE}.{kind} ({row['mib']:,.0f} MiB) | {fmt(g)} (CPU {g.median_cpu:.2f} s) | "
            f"{fmt(f)} (CPU {f.median_cpu:.2f} s) | {fmt(k)} | {ratio(k, g)} | {fmt(g, 'rss')} | "
            f"{fmt(k, 'rss')} | {ratio(k, g, 'rss')} | {ratio(g, f)} (CPU {g.median_cpu / f.median_cpu:.2f}x) |"
        )
    pdf, svg, dot = renders
    lines += [
        "",
        "Targets: at least 10x faster and 5x less memory than `load_model`; within 1.5x of the",
        "floor. The floor (`benchmarks/floor.py`) does the same input work and nothing more: it",
        "opens the file, `json.loads` the config, builds a networkx DiGraph of the layers and",
        "visits every HDF5 object of the weights (link, object, a dataset's layout and stored",
        "size), as the load-safety check must; most of its time, like graphcheck's, is starting",
        "Python and importing networkx, h5py and numpy.",
        "",
        f"Rendering {HEADLINE} (`graphcheck render MODEL -o FILE`, end to end, target under 5 s):",
        f"PDF {fmt(pdf)}, SVG {fmt(svg)}, Graphviz source (.dot, no `dot` run) {fmt(dot)}; "
        f"peak RSS {fmt(pdf, 'rss')}.",
        "",
        "## keras.applications, `weights=None`",
        "",
        "Random weights, saved by Keras "
        f"{info['packages'].split(',')[0].split()[-1]} as `.keras` and `.h5`. `load_model` runs with "
        "`compile=False`; `plot_model` is `load_model` + `keras.utils.plot_model(model, to_file=x.pdf)`",
        "(pydot installed); `render` is `graphcheck render MODEL -o x.pdf`. One run each for",
        f"`load_model`, `plot_model` and `render` except on {HEADLINE}.",
        "",
        "| model | file | size | graphcheck | RSS | floor | RSS | graphcheck / floor | "
        "`load_model` + `summary()` | RSS | `plot_model` | graphcheck `render` |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        g, f, k = row["graphcheck"], row["floor"], row["keras"]
        plot = fmt(row["plot"]) if "plot" in row else ""
        render = fmt(row["render"]) if "render" in row else ""
        lines.append(
            f"| {row['name']} | .{row['kind']} | {row['mib']:,.0f} MiB | {fmt(g)} | {fmt(g, 'rss')} | "
            f"{fmt(f)} | {fmt(f, 'rss')} | {ratio(g, f)} | {fmt(k)} | {fmt(k, 'rss')} | {plot} | {render} |"
        )
    big = [r for r in rows if r["name"] == "ConvNeXtXLarge"]
    small = [r for r in rows if r["name"] == "MobileNetV2"]
    if big and small:
        lines += ["", "A weights file over 1 GB: graphcheck's peak RSS on ConvNeXtXLarge "
                  f"({big[0]['mib']:,.0f} MiB .keras, {big[-1]['mib']:,.0f} MiB .h5) is "
                  f"{fmt(big[0]['graphcheck'], 'rss')} / {fmt(big[-1]['graphcheck'], 'rss')}, against "
                  f"{fmt(small[0]['graphcheck'], 'rss')} / {fmt(small[-1]['graphcheck'], 'rss')} on "
                  f"MobileNetV2 ({small[0]['mib']:,.0f} MiB): only the config is read, never the weights."]
    lines += [
        "",
        "## Synthetic models: linear to 100,000 layers",
        "",
        "Generated by `benchmarks/synthetic.py` (Keras 3 `.keras` config: Dense/Dropout/",
        "BatchNormalization chains in nested Functional blocks two levels deep, one nested block",
        "called twice, a residual Add per block). Target: 10x layers at most 13x time; 100,000",
        "layers under 30 s.",
        "",
        "| layers (all depths) | graphcheck `--format json` | CPU | peak RSS | x time vs previous | "
        "floor | floor RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    previous = None
    for row in synth_rows:
        g, f = row["graphcheck"], row["floor"]
        growth = f"{g.median / previous.median:.1f}x" if previous and previous.ok and g.ok else "-"
        cpu = f"{g.median_cpu:.2f} s" if g.ok else "-"
        lines.append(f"| {row['layers']:,} | {fmt(g)} | {cpu} | {fmt(g, 'rss')} | {growth} | "
                     f"{fmt(f)} | {fmt(f, 'rss')} |")
        previous = g
    lines += [
        "",
        "## A directory of 1,000 models (the gate's discovery)",
        "",
        f"{len(list(directory.glob('*')))} models: the samples in `samples/` copied round-robin "
        "(`.h5`, `.keras`, architecture JSON;",
        "each JSON copy is a `model.json` in a folder of its own, where a directory search finds",
        "it, and gets its own model name).",
        "",
        "| command | wall | models/s | CPU | peak RSS (largest process) | wall / floor "
        "| CPU / floor |",
        "|---|---|---|---|---|---|---|",
    ]
    models = len(list(directory.glob("*")))
    lines.append(f"| floor over all {models} files in one process | {fmt(dir_floor)} | "
                 f"{models / dir_floor.median:,.0f} | {dir_floor.median_cpu:.1f} s | "
                 f"{fmt(dir_floor, 'rss')} | 1x | 1x |")
    for jobs, command, result in dir_rows:
        speed = f"{models / result.median:,.0f}" if result.ok else "-"
        cpu = f"{result.median_cpu:.1f} s" if result.ok else "-"
        cpu_ratio = f"{result.median_cpu / dir_floor.median_cpu:.2f}x" if result.ok else "-"
        lines.append(f"| `graphcheck check DIR --jobs {jobs} --format {command[-1]}` | "
                     f"{fmt(result)} | {speed} | {cpu} | {fmt(result, 'rss')} | "
                     f"{ratio(result, dir_floor)} | {cpu_ratio} |")
    lines += [
        "",
        "CPU is every process of the run: the pool's workers, and each process's HDF5 reader",
        "child (a worker ends and waits for its own). Each process reads HDF5 in one reader",
        "child (forked at its first read, replaced after a crash or a hang), not in a child per",
        f"file, and starts the walks of the next {READ_AHEAD} files there before their turn, so the",
        "child walks while its parent analyses: wall time is below CPU time even with one job.",
        "Peak RSS is the largest single process. Each worker sends back its models' report",
        "entries as text, never their analyses.",
        *_jobs_bound(dir_rows),
        "",
        *kept,
        "## Commands",
        "",
        "```",
    ]
    seen = set()
    for row in rows[:2]:
        for key in ("graphcheck", "floor", "keras", "plot", "render"):
            if key in row and key not in seen:
                seen.add(key)
                command = shell(row[key].command)
                lines.append(command.replace(KERAS_LOAD, "<load_model + summary script>")
                             .replace(KERAS_PLOT, "<load_model + plot_model script>"))
    lines += [shell(synth_rows[-1]["graphcheck"].command)] + [shell(c) for _, c, _ in dir_rows]
    lines += ["```", "", "`load_model` + `summary()`:", "", "```python" + KERAS_LOAD + "```",
              "", "`plot_model`:", "", "```python" + KERAS_PLOT + "```", ""]
    output.write_text("\n".join(lines))


#: Sections this script writes; any other ``## `` section of the page (written by
#: another benchmark, such as rebuild_bench.py's) is kept as it is.
_WRITTEN = ("## Headline", "## keras.applications", "## Synthetic", "## A directory", "## Commands")


def _kept_sections(output: Path) -> list[str]:
    if not output.exists():
        return []
    kept: list[str] = []
    keep = False
    for line in output.read_text().splitlines():
        if line.startswith("## "):
            keep = not line.startswith(_WRITTEN)
        if keep:
            kept.append(line)
    if kept and kept[-1] != "":
        kept.append("")
    return kept


if __name__ == "__main__":
    raise SystemExit(main())
