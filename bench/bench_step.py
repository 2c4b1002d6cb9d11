"""Step time of the Distiller against its unavoidable parts, measured side by side in one process.

    .venv/bin/python bench/bench_step.py                      # the tiny preset (cross-tokenizer fixture pair), CPU
    .venv/bin/python bench/bench_step.py --preset tiny-same   # same-tokenizer pair (GPT-2 vocabulary)

Targets (issue 4):
  live teacher:  Distiller step <= 1.15 x (teacher forward + CE-only student step)
  teacher cache: Distiller step <= 1.2  x  CE-only student step
The CE-only student step is what a plain LM trainer does per step: collate, forward, cross-entropy, backward, clip,
AdamW step. The teacher forward runs under no_grad on the teacher's inputs. The four variants run round-robin on the
same batches (so a burst of load from other processes hits all of them alike); each time is the median over
rounds, as wall-clock and as process CPU time (all threads; the steadier of the two on a shared machine).
`distill_ce_only` is the Distiller itself with w_kd=0 (the trainer's own overhead, without any teacher).
The CE step uses the same `lm_loss` as the Distiller, and the teacher forward computes the teacher's full logits, as any
caller would; the Distiller's own teacher pass is cheaper (its head meets the aligned rows only), which is part of what
is measured. `distill_path` records which path the Distiller took (`one_pass`: cross-entropy and KD from one
log-softmax, `lm_kd_loss`; `teacher_head_rows`: the teacher's head applied to the aligned rows only).
Results go to bench/results/step.json.
"""
import argparse, json, os, platform, statistics, sys, tempfile, time, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(f):
    "(wall seconds, process CPU seconds) of one call of `f`."
    w, c = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - w, time.process_time() - c


def main(a):
    os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import torch, transformers
    transformers.logging.set_verbosity_error()
    if a.threads: torch.set_num_threads(a.threads)
    from sakd_nb.align import slice_logits
    from sakd_nb.cache import build_teacher_cache
    from sakd_nb.config import preset
    from sakd_nb.data import build_datasets
    from sakd_nb.losses import lm_loss
    from sakd_nb.models import load_model, load_tokenizer
    from sakd_nb.trainer import Distiller, param_groups
    tmp = Path(tempfile.mkdtemp())
    cfg = preset(a.preset, max_steps=10_000, max_train_docs=a.docs, out_dir=str(tmp/"live"), log_every=10_000, eval_every=10_000, save_every=10_000)
    tt, st = load_tokenizer(cfg.teacher), load_tokenizer(cfg.student)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_ds, val_ds = build_datasets(cfg, tt, st)
    data = dict(teacher_tok=tt, student_tok=st, train_ds=train_ds, val_ds=val_ds)
    t0 = time.time()
    cache = build_teacher_cache(cfg, tmp/"cache", k=a.k, teacher_tok=tt, student_tok=st, train_ds=train_ds, val_ds=val_ds)
    cache_build_s = time.time() - t0
    live = Distiller(cfg, progress=False, **data)
    cached = Distiller(preset(a.preset, **{**cfg.__dict__, "out_dir": str(tmp/"cached"), "cache_dir": str(cache)}), progress=False, **data)
    ce_only = Distiller(preset(a.preset, **{**cfg.__dict__, "out_dir": str(tmp/"ce"), "w_kd": 0.0}), progress=False, **data)
    teacher = live.teacher
    student = load_model(cfg.student, dtype=torch.float32).train()
    opt = torch.optim.AdamW(param_groups([student], cfg.weight_decay), lr=cfg.lr, betas=cfg.betas)
    B, order = cfg.batch_size, torch.randperm(len(train_ds), generator=torch.Generator().manual_seed(0)).tolist()
    batch = lambda i: train_ds.collate([train_ds[j] for j in order[i*B % len(order):][:B]])

    def teacher_forward(i):
        b = batch(i)
        with torch.no_grad(): teacher(input_ids=b["teacher_input_ids"], attention_mask=b["teacher_attention_mask"])

    def ce_step(i):
        b = batch(i)
        loss = lm_loss(slice_logits(student(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits, st), b["labels"])
        loss.backward(); torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip)
        opt.step(); opt.zero_grad(set_to_none=True)

    variants = dict(teacher_forward=teacher_forward, ce_step=ce_step, distill_live=lambda i: live.train_step(),
                    distill_cache=lambda i: cached.train_step(), distill_ce_only=lambda i: ce_only.train_step())
    for i in range(a.warmup):
        for f in variants.values(): f(i)
    times = {k: [] for k in variants}
    for r in range(a.rounds):
        for k, f in variants.items(): times[k].append(timed(lambda: f(r)))
    med = {k: dict(wall_ms=1e3*statistics.median(t[0] for t in v), cpu_ms=1e3*statistics.median(t[1] for t in v)) for k, v in times.items()}
    ratio = lambda num, den, kind: med[num][kind]/sum(med[d][kind] for d in den)
    res = dict(preset=a.preset, batch_size=cfg.batch_size, block_size=cfg.block_size, teacher=cfg.teacher, student=cfg.student,
               cache_k=a.k, cache_bytes_per_token=json.loads((Path(cache)/"cache.json").read_text())["bytes_per_token"],
               cache_build_s=round(cache_build_s, 2), rounds=a.rounds, threads=torch.get_num_threads(),
               distill_path=dict(one_pass=bool(live._one_pass({k: v for k, v in live._weights().items() if v > 0})), teacher_head_rows=bool(live._head_rows())),
               device="cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(), cpu_count=os.cpu_count(),
               loadavg=os.getloadavg(), python=platform.python_version(), torch=torch.__version__, median=med,
               ratios={kind: dict(live=ratio("distill_live", ("teacher_forward", "ce_step"), kind),
                                  cache=ratio("distill_cache", ("ce_step",), kind)) for kind in ("wall_ms", "cpu_ms")},
               targets=dict(live=1.15, cache=1.2))
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res["median"], indent=1)); print(json.dumps(res["ratios"], indent=1))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="tiny"); p.add_argument("--k", type=int, default=64, help="cache ids per token")
    p.add_argument("--docs", type=int, default=2, help="training documents (the cache covers all of their chunks)")
    p.add_argument("--rounds", type=int, default=60); p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: on a shared machine, multi-thread timings measure spin-waits)"); p.add_argument("--out", default=str(ROOT/"bench"/"results"/"step.json"))
    main(p.parse_args())
