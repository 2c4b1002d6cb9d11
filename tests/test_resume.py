"""Exact resume: 2N steps in one run equal N steps + resume + N steps, bit for bit, with every piece of state in play
(dropout RNG, EMA, router, projectors, gradient accumulation, schedules); partial or damaged checkpoints are never loaded."""
import json, math, shutil, time, warnings
import pytest, torch
from sakd_nb.config import SakdError, preset
from sakd_nb.data import build_datasets
from sakd_nb.models import corpus_files, load_model, load_tokenizer
from sakd_nb.trainer import Distiller, checkpoint_problem, list_checkpoints, read_jsonl

torch.set_num_threads(1)   # two cores shared with other test processes: one thread each avoids OpenMP spin-waits

CLOCK = ("tokens_per_s", "elapsed_s")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    "Datasets of 20,000 characters of one play (validation carved off its end), shared by the runs of this module."
    d = tmp_path_factory.mktemp("data")
    (d/"play.txt").write_text(corpus_files("train")[0].read_text()[:20000])
    c = preset("tiny", data=str(d/"play.txt"), block_size=32)
    tt, st = load_tokenizer(c.teacher), load_tokenizer(c.student)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "no validation split: carved"
        train_ds, val_ds = build_datasets(c, tt, st)
    return dict(teacher_tok=tt, student_tok=st, train_ds=train_ds, val_ds=val_ds), str(d/"play.txt")


def cfg(out, data_file, **kw):
    return preset("tiny", **{**dict(data=data_file, max_steps=8, batch_size=4, block_size=32, warmup_steps=2, log_every=2,
                                    eval_every=4, eval_batches=2, save_every=4, out_dir=str(out)), **kw})


def student_with_dropout(name):
    "The fixture student with attention dropout on, so that resume must restore the torch RNG exactly."
    m = load_model(name)
    for layer in m.model.layers: layer.self_attn.attention_dropout = 0.1
    return m


class StopAt:
    def __init__(self, step): self.at = step
    def after_step(self, d):
        if d.step == self.at: d.stop_reason = "test"


class Slow:
    def __init__(self, s): self.s = s
    def after_step(self, d): time.sleep(self.s)


def strip(path): return [{k: v for k, v in r.items() if k not in CLOCK} for r in read_jsonl(path)]


def assert_same_state(a, b):
    for (n, p), (_, q) in zip(a.student.named_parameters(), b.student.named_parameters()): assert torch.equal(p, q), n
    for (n, p), (_, q) in zip(a.extras.state_dict().items(), b.extras.state_dict().items()): assert torch.equal(p, q), n
    sa, sb = a.optimizer.state_dict()["state"], b.optimizer.state_dict()["state"]
    assert sa.keys() == sb.keys()
    for i in sa:
        for k in sa[i]: assert torch.equal(sa[i][k], sb[i][k]), (i, k)
    if a.ema is not None:
        for n in a.ema.shadow: assert torch.equal(a.ema.shadow[n], b.ema.shadow[n]), n


EVERYTHING = dict(ema_decay=0.9, router=True, w_hidden=0.5, w_contrastive=0.1, grad_accum=2, schedules={"hidden": "linear:0.5"})


def test_exact_resume_everything_on(tmp_path, data):
    kw, f = data
    c = lambda out: cfg(tmp_path/out, f, **EVERYTHING)
    a = Distiller(c("a"), student=student_with_dropout(c("a").student), **kw).fit()
    Distiller(c("b"), student=student_with_dropout(c("b").student), callbacks=[StopAt(4)], **kw).fit()
    b = Distiller(c("b"), student=student_with_dropout(c("b").student), resume=True, **kw)
    assert (b.step, b.resumed_from.name) == (4, "step-0000004")
    b.fit()
    assert_same_state(a, b)
    assert strip(tmp_path/"b"/"metrics.jsonl") == strip(tmp_path/"a"/"metrics.jsonl")
    assert read_jsonl(tmp_path/"b"/"eval.jsonl") == read_jsonl(tmp_path/"a"/"eval.jsonl")
    assert [r["step"] for r in read_jsonl(tmp_path/"b"/"metrics.jsonl")] == [2, 4, 6, 8]   # nothing lost, nothing twice
    assert {"router_fkl", "router_rkl", "loss_hidden", "loss_contrastive", "loss_router"} <= set(read_jsonl(tmp_path/"a"/"metrics.jsonl")[-1])


def test_dropout_makes_the_rng_matter(tmp_path, data):
    "Guard against a vacuous exact-resume test: without restoring the RNG, the resumed run differs."
    kw, f = data
    c = lambda out: cfg(tmp_path/out, f, max_steps=4, save_every=2, eval_every=2)
    a = Distiller(c("a"), student=student_with_dropout(c("a").student), **kw).fit()
    Distiller(c("b"), student=student_with_dropout(c("b").student), callbacks=[StopAt(2)], **kw).fit()
    b = Distiller(c("b"), student=student_with_dropout(c("b").student), resume=True, **kw)
    torch.manual_seed(1234)   # clobber the restored generator
    b.fit()
    assert any(not torch.equal(p, q) for p, q in zip(a.student.parameters(), b.student.parameters()))


def test_time_budget_saves_and_resumes_exactly(tmp_path, data):
    kw, f = data
    a = Distiller(cfg(tmp_path/"a", f, max_steps=10), **kw).fit()
    b = Distiller(cfg(tmp_path/"b", f, max_steps=10, time_budget_min=0.05), callbacks=[Slow(0.4)], **kw).fit()   # 3 s budget
    assert b.stop_reason == "time_budget" and b.step < 10
    assert list_checkpoints(tmp_path/"b"/"checkpoints")[-1].name == f"step-{b.step:07d}"
    c = Distiller(cfg(tmp_path/"b", f, max_steps=10), resume=True, **kw).fit()   # the next session: no budget this time
    assert c.step == 10
    for p, q in zip(a.student.parameters(), c.student.parameters()): assert torch.equal(p, q)
    assert strip(tmp_path/"b"/"metrics.jsonl") == strip(tmp_path/"a"/"metrics.jsonl")


def test_damaged_checkpoints_are_never_loaded(tmp_path, data):
    kw, f = data
    Distiller(cfg(tmp_path/"r", f), **kw).fit()
    ck = list_checkpoints(tmp_path/"r"/"checkpoints")
    assert [p.name for p in ck] == ["step-0000004", "step-0000008"]
    opt = ck[-1]/"optimizer.pt"; opt.write_bytes(opt.read_bytes()[:len(opt.read_bytes())//2])   # truncated
    with pytest.warns(UserWarning, match="truncated"):
        d = Distiller(cfg(tmp_path/"r", f), resume=True, **kw)
    assert d.step == 4 and d.resumed_from.name == "step-0000004"
    assert [r["step"] for r in read_jsonl(tmp_path/"r"/"metrics.jsonl")] == [2, 4]          # cut back to the checkpoint
    assert [r["step"] for r in read_jsonl(tmp_path/"r"/"eval.jsonl")] == [4]
    with pytest.raises(SakdError, match="cannot be loaded: optimizer.pt has"):
        Distiller(cfg(tmp_path/"r", f), resume=str(ck[-1]), **kw)
    (ck[0]/"MANIFEST.json").unlink()                                                      # as if the save never finished
    assert "no manifest" in checkpoint_problem(ck[0])
    with pytest.warns(UserWarning):
        d = Distiller(cfg(tmp_path/"r", f), resume=True, **kw)
    assert d.step == 0 and d.resumed_from is None                                          # nothing complete: start over
    assert read_jsonl(tmp_path/"r"/"metrics.jsonl") == []


def test_resume_refuses_another_run(tmp_path, data):
    kw, f = data
    Distiller(cfg(tmp_path/"r", f, max_steps=4), **kw).fit()
    with pytest.raises(SakdError, match="was trained with batch_size=4, this run has batch_size=2"):
        Distiller(cfg(tmp_path/"r", f, batch_size=2), resume=True, **kw)
    with pytest.raises(SakdError, match="already holds a run"):
        Distiller(cfg(tmp_path/"r", f), **kw)
    d = Distiller(cfg(tmp_path/"r", f, max_steps=6, lr=5e-4), resume=True, **kw)          # more steps, another lr: fine
    assert d.step == 4
    d = Distiller(cfg(tmp_path/"r", f), overwrite=True, **kw)
    assert d.step == 0 and not (tmp_path/"r"/"checkpoints").exists()
