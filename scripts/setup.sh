#!/usr/bin/env bash
# Create .venv and install graphcheck into it. With --test, also install what the
# test suite needs: Graphviz, poppler, Chromium and chromedriver (apt, when run as
# root), TensorFlow, Keras 3 and tf_keras (the truth tests build and run real models),
# selenium (drives Chromium through the HTML report), JAX for CPU (the
# `validate --backend jax` tests, tests/runtime/test_backends.py), pytest and friends,
# and the environments of the other Keras builds the truth suite runs against
# (scripts/matrix_envs.sh, under .matrix/).
# PyTorch is not installed (a ~190 MB CPU wheel); that test skips torch without it.
# pip runs only when the install is not current: .venv/.graphcheck-setup records the
# mode and a hash of pyproject.toml, the constraints and this checkout's path
# (SETUP_FORCE=1 installs anyway).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
mode=plain
[ "${1:-}" = "--test" ] && mode=test
stamp=.venv/.graphcheck-setup
digest=$(.venv/bin/python -c 'import hashlib, os, sys
h = hashlib.sha256(os.getcwd().encode() + sys.version.encode())
for name in ("pyproject.toml", "scripts/constraints.txt"):
    with open(name, "rb") as f:
        h.update(f.read())
print(h.hexdigest())')
current=no
if [ -z "${SETUP_FORCE:-}" ] && [ -x .venv/bin/graphcheck ] && [ -f "$stamp" ]; then
  read -r done_mode done_digest < "$stamp" || true
  # A test install holds everything a plain one does.
  if [ "${done_digest:-}" = "$digest" ] && { [ "$mode" = plain ] || [ "${done_mode:-}" = test ]; }; then
    current=yes
  fi
fi
if [ "$current" = no ]; then
  rm -f "$stamp"
  .venv/bin/python -m pip install -q --upgrade pip
fi
if [ "$mode" = test ]; then
  # Chromium and its driver: tests/test_render_html_browser.py drives the HTML report.
  if ! command -v dot >/dev/null || ! command -v pdftotext >/dev/null \
      || ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q
      apt-get install -y -q --no-install-recommends graphviz poppler-utils chromium chromium-driver
    else
      echo "setup: install Graphviz, poppler-utils, chromium and chromium-driver" \
        "(e.g. sudo apt-get install graphviz poppler-utils chromium chromium-driver)" >&2
    fi
  fi
  if [ "$current" = no ]; then
    .venv/bin/python -m pip install -q -c scripts/constraints.txt -e ".[test,runtime]" "jax[cpu]"
  fi
  # Other Keras builds for the version-matrix truth tests (scripts/matrix.txt).
  bash scripts/matrix_envs.sh
  if [ "$current" = no ]; then
    # KerasHub (the --rebuild and live-model truth tests) without its declared
    # dependencies: they would pull tensorflow-text and move TensorFlow/Keras/numpy.
    # keras_hub imports only these three beyond what is already installed.
    .venv/bin/python -m pip install -q --no-deps -c scripts/constraints.txt \
      keras-hub regex tokenizers sentencepiece
  fi
else
  if ! command -v dot >/dev/null; then
    echo "setup: Graphviz 'dot' not found; 'graphcheck render' needs it (apt-get install graphviz)" >&2
  fi
  if [ "$current" = no ]; then
    .venv/bin/python -m pip install -q -e .
  fi
fi
if [ "$current" = no ]; then
  echo "$mode $digest" > "$stamp"
fi
