#!/usr/bin/env bash
# Set up (see setup.sh --test) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# Lint and type-check first: seconds, and a failure says more than a test would.
.venv/bin/ruff check graphcheck
.venv/bin/python -m mypy
# Two workers, a test file each at a time (its module fixtures built once): CI has two
# cores. GRAPHCHECK_TEST_WORKERS=0 runs everything in this process.
exec .venv/bin/python -m pytest -n "${GRAPHCHECK_TEST_WORKERS:-2}" --dist loadfile "$@"
