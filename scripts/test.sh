#!/usr/bin/env bash
# The README test command: set up .venv, then run every notebook test (nbdev_test) and every pytest test.
# Prints a last line `N passed, N failed`; exits non-zero if anything failed. `--fast` skips `#| slow` cells.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
# one thread per process: two notebooks run at once on two cores, and oversubscribed threads spin
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false MPLBACKEND=Agg PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
exec .venv/bin/python scripts/run_tests.py "$@"
