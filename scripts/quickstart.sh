#!/usr/bin/env bash
# Set up graphcheck (no TensorFlow needed) and run it on the transfer-learning sample.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/graphcheck samples/transfer_inception.h5 "$@"
