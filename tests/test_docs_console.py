"""The console blocks of the README, docs/guide.md and docs/report.md are what graphcheck prints today."""

from __future__ import annotations

import subprocess
import sys

from helpers import ROOT


def test_console_blocks_match_real_runs() -> None:
    """scripts/docs_console.py --check reruns every documented command; a stale block fails."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "docs_console.py"), "--check"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
