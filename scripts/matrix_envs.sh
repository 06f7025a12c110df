#!/usr/bin/env bash
# Create the version-matrix environments listed in scripts/matrix.txt under .matrix/
# (or $GRAPHCHECK_MATRIX_DIR), idempotently: an environment whose recorded package
# list equals its line is left alone. Needs .venv (scripts/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
root="${GRAPHCHECK_MATRIX_DIR:-.matrix}"
mkdir -p "$root"
grep -v '^\s*#' scripts/matrix.txt | while read -r name packages; do
  [ -n "$name" ] || continue
  home="$root/$name"
  if [ -f "$home/.packages" ] && [ "$(cat "$home/.packages")" = "$packages" ]; then
    continue
  fi
  rm -rf "$home"
  start=$SECONDS
  if [[ "$packages" != *tensorflow* ]]; then  # Keras alone, over .venv's TensorFlow
    # shellcheck disable=SC2086 # one word per package
    .venv/bin/python -m pip install -q --no-deps --pre --target "$home" $packages
  else
    "$python" -m venv "$home"
    # shellcheck disable=SC2086
    "$home/bin/python" -m pip install -q $packages
  fi
  echo "$packages" > "$home/.packages"
  echo "matrix: $name ready in $((SECONDS - start)) s" >&2
done
