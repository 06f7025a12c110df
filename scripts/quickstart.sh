#!/usr/bin/env bash
# Set up graphcheck (no TensorFlow needed; pip runs only the first time) and run it on a
# transfer-learning sample whose frozen base (trainable=False) still drops units in fit().
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
sample=samples/frozen_base_dropout.keras
echo "\$ graphcheck $sample"
status=0
.venv/bin/graphcheck "$sample" "$@" || status=$?
cat <<'END'

Run graphcheck on your own model (a .keras, .h5 or architecture .json file, or a folder):
  .venv/bin/graphcheck MODEL
or activate the environment first:  source .venv/bin/activate && graphcheck MODEL
More: graphcheck help, graphcheck help check, graphcheck explain GC101
END
# Exit 1 would be the gate's verdict on the model, not a failure of this script.
[ "$status" -le 1 ] || exit "$status"
