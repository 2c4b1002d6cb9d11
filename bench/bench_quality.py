"""Distillation quality: validation bits per byte of students trained with each method, side by side.

    .venv/bin/python bench/bench_quality.py                          # the default run (<= 20 min on 2 CPU cores)
    .venv/bin/python bench/bench_quality.py --methods ce,kd-vocabmap --seeds 1 --steps 50 --out /tmp/q   # a quick look
    sakd_bench --data my_text.txt                                    # the same, as the installed console script

A thin wrapper over `sakd_nb.bench.sakd_bench` (nbs/14_benchmarks.ipynb holds the code, the protocol and the
methods). Every method trains the same student initialization on the same batches for the same steps; only the
objective changes. Writes <out>/quality.json (runs, per-method summary, targets, protocol, machine) and
<out>/quality.png; the default --out is bench/results.
"""
from sakd_nb.bench import sakd_bench

if __name__ == "__main__": sakd_bench()
