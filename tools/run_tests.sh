#!/usr/bin/env bash
# Everything CI checks, in order, failing fast. Expects the tools of .venv on PATH (the Makefile does that).
set -euo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg PYTHONHASHSEED=0
start=$SECONDS
step() { printf '\n=== [%4ds] %s\n' $((SECONDS - start)) "$*"; }

step "ruff"
ruff check .
ruff format --check reps4lhc_tutor tests tools

step "unit tests"
pytest -q tests

step "notebook pairing (.py and .ipynb inputs agree) and links"
reps4lhc notebooks pairing
reps4lhc links --check
reps4lhc notebooks status --check

step "notebooks under nbval at the ci profile, each grading its student version (no solutions, checks fail)"
reps4lhc assignments ci --out _build/ci-notebooks
REPS4LHC_PROFILE=ci REPS4LHC_STRICT=1 pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
  _build/ci-notebooks/*.ipynb

step "book"
tools/build_book.sh

step "book in headless Chromium"
if ! command -v chromium >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: install it (Debian/Ubuntu: sudo apt-get install chromium) and rerun." >&2
    exit 2
  fi
fi
python tools/check_book.py
