#!/usr/bin/env bash
# One entry point that sets everything up on a fresh machine, then runs a job.
#   ./run.sh demo            set up, then `ml2sc demo` (breast-cancer MLP on the embedded chain) and
#                            `verkle demo` (a Verkle multiproof checked off-chain and on-chain, beside Merkle)
#   ./run.sh test [ARGS...]  set up, lint (ruff check + ruff format --check), then the whole test
#                            suite (extra ARGS go to pytest)
#   ./run.sh lint            set up, then ruff only
#   ./run.sh setup           set up only
# Setup: a virtual environment in .venv with this package and its pinned Python dependencies
# (torch==2.13.0, CPU build), and the pinned npm tools in node_modules (solc-js, anvil).
# It is skipped when pyproject.toml and package-lock.json have not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.setup-stamp

want_stamp() { cat pyproject.toml package-lock.json | sha256sum | cut -d' ' -f1; }

setup() {
  command -v node >/dev/null || { echo "run.sh: Node.js (node, npm) is required for solc-js and anvil" >&2; exit 1; }
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(want_stamp)" ] && [ -d node_modules/solc ]; then
    return
  fi
  echo "run.sh: setting up ($VENV, node_modules) ..." >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
  # `npm ci` refuses this lock file: npm records only the optional anvil binary package of the
  # platform that wrote it. The versions are pinned exactly in package.json either way.
  npm install --no-audit --no-fund --loglevel=error
  want_stamp > "$STAMP"
}

lint() {
  "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check --quiet . \
    || { echo "run.sh: ruff found problems (./run.sh lint; fix with: .venv/bin/ruff format . && .venv/bin/ruff check --fix .)" >&2; exit 1; }
}

job=${1:-demo}
[ $# -gt 0 ] && shift
case "$job" in
  setup) setup ;;
  demo)  setup; "$VENV/bin/ml2sc" demo "$@"; echo; exec "$VENV/bin/verkle" demo ;;
  lint)  setup; lint ;;
  test)  setup; lint; exec "$VENV/bin/python" -m pytest "$@" ;;
  *) echo "usage: ./run.sh demo|test|lint|setup [ARGS...]" >&2; exit 2 ;;
esac
