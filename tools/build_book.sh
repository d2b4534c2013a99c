#!/usr/bin/env bash
# Build the Jupyter Book into _build/html with warnings as errors.
#
# Usage: tools/build_book.sh [extra jupyter-book build options, e.g. --all]
#
# MathJax is served by the book itself so that equations render offline. The version pinned in
# package.json is installed with npm (only when vendor/mathjax/ is missing or holds another version)
# and copied to vendor/mathjax/, which _config.yml publishes as _static/mathjax/. After the first
# install the build needs no network.
#
# jupyter-book is taken from $JUPYTER_BOOK if set, else .venv/bin/jupyter-book, else PATH.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

die() {
    echo "build_book.sh: error: $*" >&2
    exit 1
}

# JSON fields are read with python3, which is present wherever jupyter-book runs.
json_field() {  # json_field FILE KEY [KEY ...]
    python3 -c 'import functools, json, sys
print(functools.reduce(lambda d, k: d[k], sys.argv[2:], json.load(open(sys.argv[1]))))' "$@"
}

# --- MathJax -------------------------------------------------------------------------------------
command -v python3 > /dev/null || die "python3 not found; it is needed to read package.json."
wanted="$(json_field package.json dependencies mathjax)"
vendored=""
if [[ -f vendor/mathjax/package.json && -f vendor/mathjax/tex-mml-chtml.js ]]; then
    vendored="$(json_field vendor/mathjax/package.json version)"
fi

if [[ "$vendored" != "$wanted" ]]; then
    installed=""
    if [[ -f node_modules/mathjax/package.json ]]; then
        installed="$(json_field node_modules/mathjax/package.json version)"
    fi
    if [[ "$installed" != "$wanted" ]]; then
        command -v npm > /dev/null || die "npm is needed once to fetch MathJax $wanted (package.json) but was \
not found. Install Node.js and npm (Debian/Ubuntu: apt-get install npm; macOS: brew install node), then re-run."
        echo "Installing MathJax $wanted with npm ci ..."
        npm ci --no-audit --no-fund || die "npm ci failed: check the network connection to the npm registry \
and that package-lock.json matches package.json (regenerate it with: npm install --package-lock-only)."
    fi
    echo "Vendoring MathJax $wanted into vendor/mathjax/ ..."
    rm -rf vendor/mathjax
    mkdir -p vendor
    cp -r node_modules/mathjax/es5 vendor/mathjax
    # The licence travels with the copy the published book serves. package.json (the version) is copied
    # last, so a copy interrupted half-way is seen as stale next time.
    cp node_modules/mathjax/LICENSE node_modules/mathjax/package.json vendor/mathjax/
fi

# --- jupyter-book --------------------------------------------------------------------------------
if [[ -n "${JUPYTER_BOOK:-}" ]]; then
    jb="$JUPYTER_BOOK"
elif [[ -x .venv/bin/jupyter-book ]]; then
    jb=".venv/bin/jupyter-book"
elif command -v jupyter-book > /dev/null; then
    jb="jupyter-book"
else
    die "jupyter-book not found. Install the book extra (pip install -e '.[book]') or set JUPYTER_BOOK \
to its path."
fi
versions="$("$jb" --version 2>&1)" || die "could not run '$jb --version':
$versions"
# Jupyter Book 2 is a different tool (no Sphinx, no Colab button); this book needs 1.x.
[[ "$versions" =~ Jupyter\ Book[[:space:]]*:[[:space:]]*1\. ]] \
    || die "$jb is not Jupyter Book 1.x (it reports: ${versions%%$'\n'*}). Install 'jupyter-book>=1.0.4,<2'."

"$jb" build . -W -n --keep-going "$@"

echo
echo "The book is at: file://$root/_build/html/index.html"
echo "To serve it:    python -m http.server -d _build/html   (then open http://localhost:8000)"
