"""How fast the HTML report is written, and how fast it is interactive in a real browser.

For each MODEL: ``graphcheck render MODEL -o FILE.html`` end to end in a fresh
process (best of ``--runs``), the page's size, then headless Chromium (a new
profile per model) opens it from ``file://`` and reports when the viewer's script
finished its first drawing (``performance.now()`` at that point: milliseconds since
navigation started), and what one switch of the scenario, of the profile, a search
and a click on a node take (their ``draw()`` included).

Usage::

    .venv/bin/python benchmarks/render_html.py MODEL [MODEL...] [--runs 3]

EfficientNetB7 without weights (an architecture JSON is enough, and quick to make)::

    .venv/bin/python -c "import keras; open('/tmp/EfficientNetB7.json', 'w').write(
        keras.applications.EfficientNetB7(weights=None).to_json())"
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,900",
)

# Each runs in the page and returns the milliseconds the action took, drawing included.
ACTIONS = {
    "scenario switch": """
        var s = document.getElementById('gc-scenario'), t = performance.now();
        s.value = 'predict'; s.dispatchEvent(new Event('change'));
        return performance.now() - t;""",
    "profile switch": """
        var s = document.getElementById('gc-profile'), t = performance.now();
        s.value = '1'; s.dispatchEvent(new Event('change'));
        return performance.now() - t;""",
    "search (typing one query)": """
        var e = document.getElementById('gc-search'), t = performance.now();
        e.value = 'drop'; e.dispatchEvent(new Event('input'));
        return performance.now() - t;""",
    "click a node for its facts": """
        var n = document.querySelectorAll('.gc-node[data-id]');
        var t = performance.now();
        n[Math.floor(n.length / 2)].dispatchEvent(new MouseEvent('click', {bubbles: true}));
        return performance.now() - t;""",
}


def write_time(model: Path, out: Path, runs: int) -> tuple[float, float]:
    """Best wall and CPU seconds (the process and the dot it waits for) of ``runs`` runs."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    best, best_cpu = float("inf"), float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "graphcheck", "render", str(model), "-o", str(out)], env=env
        )
        _, status, usage = os.wait4(child.pid, 0)
        if status != 0:
            raise SystemExit(f"{model}: graphcheck render failed ({status})")
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, usage.ru_utime + usage.ru_stime)
    return best, best_cpu


def browser_times(page: Path) -> dict[str, float]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="chromium-bench-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    )
    try:
        start = time.perf_counter()
        driver.get(page.as_uri())  # returns after the load event: the viewer has run
        wall = time.perf_counter() - start
        ready = driver.execute_script("return window.__gcReadyMs")
        if driver.execute_script("return document.body.getAttribute('data-ready')") != "1":
            raise SystemExit(f"{page}: the viewer did not finish: "
                             f"{driver.execute_script('return window.__gcErrors')}")
        times = {"interactive (ms after navigation start)": ready,
                 "driver.get() wall (ms)": wall * 1000}
        for name, script in ACTIONS.items():
            times[name + " (ms)"] = driver.execute_script(script)
        return times
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    chromium = subprocess.run(
        [shutil.which("chromium") or "/usr/bin/chromium", "--version"], capture_output=True, text=True
    ).stdout.strip()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}; {chromium}; Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="graphcheck-html-bench-") as folder:
        for model in args.models:
            out = Path(folder) / f"{model.stem}.html"
            seconds, cpu = write_time(model, out, args.runs)
            print(f"\n{model.name}: written in {seconds:.2f} s, CPU {cpu:.2f} s (best of "
                  f"{args.runs}), {out.stat().st_size / 1e6:.2f} MB")
            for name, value in browser_times(out).items():
                print(f"  {name}: {value:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
