#!/usr/bin/env bash
# Create or refresh the project's virtual environment in .venv.
# torch is installed first and then pinned, so that no dependency (lgatr, shap, ...) pulls another torch build.
#   PYTHON           interpreter to build the venv from (default: python3; needs >= 3.11)
#   TORCH_VERSION    torch release to install (default 2.13.0)
#   TORCH_INDEX_URL  optional wheel index for torch, e.g. PyTorch's CPU-only index on a machine without a GPU
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
VENV=.venv
stamp=$VENV/.reps4lhc-installed

command -v "$PYTHON" >/dev/null || { echo "setup: $PYTHON not found; install Python >= 3.11 or set PYTHON=..." >&2; exit 2; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "setup: $PYTHON is $("$PYTHON" --version 2>&1); the course needs Python >= 3.11 (set PYTHON=python3.11)" >&2; exit 2; }

if [[ -f $stamp && $stamp -nt pyproject.toml ]]; then
  echo "setup: $VENV is up to date"
  exit 0
fi
[[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install --quiet)
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  echo "setup: installing torch $TORCH_VERSION"
  "${pip[@]}" "torch==$TORCH_VERSION" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi
installed_torch=$("$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')
echo "setup: installing reps4lhc_tutor with all extras (torch pinned to $installed_torch)"
"${pip[@]}" -e ".[all]" "torch==$installed_torch"
touch "$stamp"
echo "setup: done ($VENV)"
