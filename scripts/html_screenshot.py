"""Screenshot an HTML report in headless Chromium (the pictures in docs/render.md).

Usage::

    .venv/bin/python scripts/html_screenshot.py PAGE.html OUT.png [--select PATH]
        [--collapse SUBMODEL] [--scenario fit|predict|call] [--profile N] [--fit] [--size 1400x820]

``--select`` clicks the node with that call path (its facts fill the side panel),
``--collapse`` collapses a submodel, ``--profile`` picks the N-th profile of the
switch (0 is the one graphcheck chose), ``--fit`` shows the whole graph instead of
the page's opening view.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--select")
    parser.add_argument("--collapse", action="append", default=[])
    parser.add_argument("--scenario", choices=("fit", "predict", "call"))
    parser.add_argument("--profile", type=int)
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--size", default="1400x820")
    args = parser.parse_args(argv)

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="chromium-shot-")
    width, height = args.size.split("x")
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    )
    try:
        driver.get(args.page.resolve().as_uri())
        change = "var s = document.getElementById(arguments[0]); s.value = arguments[1];" \
                 " s.dispatchEvent(new Event('change'));"
        if args.profile is not None:
            driver.execute_script(change, "gc-profile", str(args.profile))
        if args.scenario:
            driver.execute_script(change, "gc-scenario", args.scenario)
        for submodel in args.collapse:
            driver.execute_script(
                "document.querySelector('.gc-toggle[data-panel=\"' + arguments[0] + '\"]')"
                ".dispatchEvent(new MouseEvent('click', {bubbles: true}))", submodel)
        if args.fit:
            driver.execute_script("document.getElementById('gc-fit').click()")
        if args.select:
            driver.execute_script(
                "document.querySelector('.gc-node[data-id=\"' + arguments[0] + '\"]')"
                ".dispatchEvent(new MouseEvent('click', {bubbles: true}))", args.select)
        errors = driver.execute_script("return window.__gcErrors")
        if errors:
            print(f"script errors: {errors}", file=sys.stderr)
            return 1
        driver.save_screenshot(str(args.out))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
