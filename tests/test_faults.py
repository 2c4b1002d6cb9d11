"""Faults: processes killed with SIGKILL during training and during a checkpoint write, NaN injection, a full disk,
a non-finite teacher, and determinism. After a kill, the next run resumes from the last complete checkpoint and ends
bit-identical to a run that was never interrupted, with every metrics line exactly once."""
import errno, json, os, signal, subprocess, sys, time, warnings
from pathlib import Path
import pytest, torch
from safetensors.torch import load_file
from sakd_nb.config import SakdError, preset
from sakd_nb.data import build_datasets
from sakd_nb.models import corpus_files, load_tokenizer
from sakd_nb.trainer import Distiller, latest_checkpoint, list_checkpoints, read_jsonl

torch.set_num_threads(1)   # two cores shared with other test processes: one thread each avoids OpenMP spin-waits
ROOT = Path(__file__).resolve().parent.parent
CLOCK = ("tokens_per_s", "elapsed_s")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def play(tmp_path_factory):
    p = tmp_path_factory.mktemp("data")/"play.txt"
    p.write_text(corpus_files("train")[1].read_text()[:20000])
    return str(p)


def overrides(play, **kw):
    return {**dict(data=play, max_steps=16, batch_size=4, block_size=32, warmup_steps=2, log_every=2, eval_every=4,
                   eval_batches=2, save_every=4, keep_last=2), **kw}


def cli(out, play, *extra, **kw):
    "The `sakd_train` command line for a small run in `out`."
    sets = [a for k, v in overrides(play, **kw).items() for a in ("--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}")]
    return [sys.executable, "-m", "sakd_nb.cli", "--out", str(out), *sets, *extra]


def strip(path): return [{k: v for k, v in r.items() if k not in CLOCK} for r in read_jsonl(path)]


def weights(out): return load_file(str(Path(out)/"student"/"model.safetensors"))


def assert_same_run(a, b):
    "Run folders `a` and `b` hold the same metrics, evaluations and final weights, bit for bit."
    assert strip(Path(b)/"metrics.jsonl") == strip(Path(a)/"metrics.jsonl")
    assert read_jsonl(Path(b)/"eval.jsonl") == read_jsonl(Path(a)/"eval.jsonl")
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def wait_for(cond, proc, timeout=600):
    t = time.time()
    while not cond():
        assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before the fault could be injected"
        assert time.time() - t < timeout, "timed out waiting"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, play):
    "An uninterrupted run of the command line."
    out = tmp_path_factory.mktemp("ref")/"run"
    subprocess.run(cli(out, play), env=ENV, cwd=ROOT, check=True, capture_output=True)
    return out


def test_kill_during_training(tmp_path, play, reference):
    out = tmp_path/"run"
    p = subprocess.Popen(cli(out, play), env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    steps = lambda: [r["step"] for r in read_jsonl(out/"metrics.jsonl")]
    wait_for(lambda: any(s >= 10 for s in steps()), p)          # past the checkpoint of step 8, before the end
    os.kill(p.pid, signal.SIGKILL); p.wait()
    assert p.returncode == -signal.SIGKILL
    assert latest_checkpoint(out/"checkpoints").name in ("step-0000008", "step-0000012") and not (out/"student").exists()
    r = subprocess.run(cli(out, play, "--resume"), env=ENV, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert [r["step"] for r in read_jsonl(out/"metrics.jsonl")] == [2, 4, 6, 8, 10, 12, 14, 16]
    assert_same_run(reference, out)


HANG = """
import os, sys, time, json, torch
from pathlib import Path
import sakd_nb.trainer as T
from sakd_nb.cli import make_config, train
marker, how, at = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def hang(): marker.write_text("saving"); time.sleep(600)
if how == "manifest":          # every file written, the manifest not yet
    orig = T.write_manifest
    def write_manifest(folder, step):
        if step == at: hang()
        return orig(folder, step)
    T.write_manifest = write_manifest
else:                          # killed in the middle of writing the optimizer state
    orig_save = torch.save
    def save(obj, f, *a, **k):
        if str(f).endswith("optimizer.pt") and f".tmp-step-{at:07d}" in str(f):
            orig_save(obj, f, *a, **k); Path(f).write_bytes(Path(f).read_bytes()[:1000]); hang()
        return orig_save(obj, f, *a, **k)
    T.torch.save = save
train(make_config("tiny", None, json.loads(sys.argv[1])), progress=False)
"""


@pytest.mark.parametrize("how", ["manifest", "file"])
def test_kill_during_checkpoint_write(tmp_path, play, reference, how):
    out, marker = tmp_path/"run", tmp_path/"saving"
    driver = tmp_path/"driver.py"; driver.write_text(HANG)
    p = subprocess.Popen([sys.executable, str(driver), json.dumps(overrides(play, out_dir=str(out))), str(marker), how, "12"],
                         env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(marker.exists, p)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    ck = out/"checkpoints"
    assert [t.name.startswith(".tmp-step-0000012") for t in ck.iterdir() if t.name.startswith(".tmp")] == [True]   # the half-written one
    assert [c.name for c in list_checkpoints(ck)] == ["step-0000004", "step-0000008"]                              # never renamed in
    r = subprocess.run(cli(out, play, "--resume"), env=ENV, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not list(ck.glob(".tmp-*"))                                   # the leftover was cleaned at the next save
    assert [c.name for c in list_checkpoints(ck)] == ["step-0000012", "step-0000016"]
    assert_same_run(reference, out)


# In-process faults: faster, and they need callbacks or monkeypatching.

@pytest.fixture(scope="module")
def data(play):
    c = preset("tiny", data=play, block_size=32)
    tt, st = load_tokenizer(c.teacher), load_tokenizer(c.student)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_ds, val_ds = build_datasets(c, tt, st)
    return dict(teacher_tok=tt, student_tok=st, train_ds=train_ds, val_ds=val_ds)


def cfg(out, play, **kw): return preset("tiny", **overrides(play, out_dir=str(out), **{"max_steps": 8, **kw}))


class InjectNaN:
    "Make loss `component` NaN at the (1-based) steps in `steps`."
    def __init__(self, component, steps): self.component, self.steps = component, set(steps)
    def after_loss(self, d):
        if d.step + 1 in self.steps: d.losses[self.component] = d.losses[self.component]*float("nan")


@pytest.mark.parametrize("component", ["lm", "kd"])
def test_nan_steps_are_skipped_counted_and_logged(tmp_path, play, data, component):
    d = Distiller(cfg(tmp_path/"r", play, log_every=4), callbacks=[InjectNaN(component, [3, 5, 6])], **data).fit()
    m = {r["step"]: r for r in read_jsonl(tmp_path/"r"/"metrics.jsonl")}
    assert sorted(m) == [3, 4, 5, 6, 8]                          # every skipped step is logged, besides every 4th
    assert [m[s].get("nonfinite_component") for s in (3, 4, 5, 6, 8)] == [component, None, component, component, None]
    assert [m[s]["skipped"] for s in (3, 4, 5, 6, 8)] == [1, 1, 2, 3, 3]
    assert m[3][f"loss_{component}"] is None and m[3]["loss"] is None   # NaN is logged as null, never as a number
    assert d.skipped == 3 and d.stop_reason == "max_steps" and all(torch.isfinite(p).all() for p in d.student.parameters())


def test_persistent_nan_stops_with_a_diagnostic(tmp_path, play, data):
    d = Distiller(cfg(tmp_path/"r", play, max_nonfinite=3), callbacks=[InjectNaN("kd", range(6, 100))], **data)
    with pytest.raises(SakdError) as e: d.fit()
    msg = str(e.value)
    assert "3 consecutive non-finite steps (steps 6-8, the last caused by `kd`)" in msg and "step-0000004" in msg, msg
    assert [c.name for c in list_checkpoints(tmp_path/"r"/"checkpoints")] == ["step-0000004"]   # nothing new saved
    assert not (tmp_path/"r"/"student").exists()


def test_nonfinite_teacher_is_named(tmp_path, play, data):
    from sakd_nb.models import load_model
    teacher = load_model(preset("tiny").teacher)
    calls = []
    def poison(m, i, out):
        calls.append(1)
        if len(calls) == 2: out.logits.mul_(float("nan"))       # the teacher's second forward: step 2
    teacher.register_forward_hook(poison)
    d = Distiller(cfg(tmp_path/"r", play, max_steps=3), teacher=teacher, **data)
    d.train_step(); d.train_step()
    assert (d.skipped, d.nonfinite_component) == (1, "teacher")


def test_disk_full_while_saving(tmp_path, play, data, monkeypatch):
    d = Distiller(cfg(tmp_path/"r", play), **data)
    for _ in range(4): d.train_step()
    d.save()
    orig = torch.save
    def full(obj, f, *a, **k):
        if str(f).endswith("optimizer.pt"): raise OSError(errno.ENOSPC, "No space left on device")
        return orig(obj, f, *a, **k)
    monkeypatch.setattr(torch, "save", full)
    for _ in range(4): d.train_step()
    with pytest.raises(SakdError, match="disk full while saving checkpoint step-0000008 .* the last complete checkpoint is .*step-0000004"):
        d.save()
    ck = tmp_path/"r"/"checkpoints"
    assert [c.name for c in list_checkpoints(ck)] == ["step-0000004"] and not list(ck.glob(".tmp-*"))


def test_same_seed_same_metrics(tmp_path, play, data):
    runs = [Distiller(cfg(tmp_path/n, play, seed=s, router=True, w_hidden=0.3), **data).fit() for n, s in (("a", 0), ("b", 0), ("c", 1))]
    a, b, c = (strip(tmp_path/n/"metrics.jsonl") for n in "abc")
    assert a == b and read_jsonl(tmp_path/"a"/"eval.jsonl") == read_jsonl(tmp_path/"b"/"eval.jsonl")
    assert a != c                                                  # another seed: another data order and projector init
    assert all(torch.equal(p, q) for p, q in zip(runs[0].student.parameters(), runs[1].student.parameters()))
