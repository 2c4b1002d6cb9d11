"""`sakd_train` as a user runs it: a short run end to end (files, a loadable student, the report), resume and
overwrite, a teacher cache built on the fly, and user errors as one line on stderr with exit code 2."""
import json, os, subprocess, sys
from pathlib import Path
import pytest, torch
from sakd_nb.models import corpus_files
from sakd_nb.trainer import list_checkpoints, read_jsonl

torch.set_num_threads(1)   # two cores shared with other test processes: one thread each avoids OpenMP spin-waits

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "MPLBACKEND": "Agg"}
SMALL = ["--set", "block_size=32", "--set", "batch_size=4", "--set", "warmup_steps=1", "--set", "log_every=2",
         "--set", "eval_every=3", "--set", "save_every=3", "--set", "eval_batches=2"]


def sakd_train(*args):
    return subprocess.run([sys.executable, "-m", "sakd_nb.cli", *map(str, args)], env=ENV, cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module")
def play(tmp_path_factory):
    p = tmp_path_factory.mktemp("data")/"play.txt"
    p.write_text(corpus_files("train")[2].read_text()[:15000])
    return p


def test_help():
    r = sakd_train("--help")
    assert r.returncode == 0 and "--preset" in r.stdout and "--set" in r.stdout and "--resume" in r.stdout


def test_run_resume_overwrite(tmp_path, play):
    out = tmp_path/"run"
    r = sakd_train("--out", out, "--data", play, "--max_steps", 6, "--kd_kind", "jsd", *SMALL)
    assert r.returncode == 0, r.stderr
    for f in ("metrics.jsonl", "eval.jsonl", "report.png", "student/config.json", "student/tokenizer.json"):
        assert (out/f).exists(), f
    assert f"student: {out/'student'}" in r.stdout and f"report:  {out/'report.png'}" in r.stdout
    assert len(r.stdout.strip().splitlines()) == 6 and "Traceback" not in r.stderr      # a start line and a short summary
    m = read_jsonl(out/"metrics.jsonl")
    assert [x["step"] for x in m] == [2, 4, 6] and all(x["loss"] is not None for x in m)
    assert json.loads((list_checkpoints(out/"checkpoints")[-1]/"config.json").read_text())["kd_kind"] == "jsd"
    code = ("from transformers import AutoModelForCausalLM, AutoTokenizer; import sys; p = sys.argv[1]; "
            "m, t = AutoModelForCausalLM.from_pretrained(p), AutoTokenizer.from_pretrained(p); "
            "print(m(**t('To be, or not to be', return_tensors='pt')).logits.shape[-1])")
    r2 = subprocess.run([sys.executable, "-c", code, str(out/"student")], env=ENV, capture_output=True, text=True)
    assert r2.returncode == 0 and r2.stdout.strip() == "1000", r2.stderr
    r = sakd_train("--out", out, "--data", play, "--max_steps", 6, *SMALL)             # the folder holds a run
    assert r.returncode == 2 and "already holds a run" in r.stderr
    r = sakd_train("--out", out, "--data", play, "--max_steps", 8, "--kd_kind", "jsd", "--resume", *SMALL)
    assert r.returncode == 0, r.stderr
    assert [x["step"] for x in read_jsonl(out/"metrics.jsonl")] == [2, 4, 6, 8]
    r = sakd_train("--out", out, "--data", play, "--max_steps", 2, "--overwrite", *SMALL)
    assert r.returncode == 0, r.stderr
    assert [x["step"] for x in read_jsonl(out/"metrics.jsonl")] == [2]


def test_cache_built_then_used(tmp_path, play):
    out, cache = tmp_path/"run", tmp_path/"cache"
    r = sakd_train("--out", out, "--data", play, "--max_steps", 3, "--cache", cache, "--set", "top_k=16", *SMALL)
    assert r.returncode == 0, r.stderr
    meta = json.loads((cache/"cache.json").read_text())
    assert meta["k"] == 16 and meta["bytes_per_token"] <= 6*16 + 16
    assert read_jsonl(out/"metrics.jsonl")[-1]["loss_kd"] > 0 and read_jsonl(out/"eval.jsonl")[-1]["teacher_bpb"] > 0
    r = sakd_train("--out", tmp_path/"run2", "--data", play, "--max_steps", 3, "--cache", cache, "--set", "top_k=8", *SMALL)
    assert r.returncode == 2 and "built for another k (ids per token) (16, this run needs 8)" in r.stderr


BAD = [
    (["--preset", "tiny-smol"], "unknown preset `tiny-smol`"),
    (["--set", "temprature=2"], "did you mean `temperature`"),
    (["--set", "batch_size=2.5"], "expected an integer"),
    (["--set", "kd_kind"], "expected field=value"),
    (["--kd_kind", "fk"], "did you mean `fkl`"),
    (["--temperature", "0"], "temperature must be > 0"),
    (["--set", "beta=1.5"], "beta must be in [0, 1]"),
    (["--set", "chunk_size=0"], "chunk_size must be > 0"),
    (["--precision", "fp16"], "precision fp16 was asked for on CPU"),
    (["--teacher", "./no/such/model"], "model path ./no/such/model does not exist"),
    (["--config", "missing.json"], "config file missing.json does not exist"),
    (["--data", "/no/such/*.txt"], "no files match"),
    (["--resume", "--overwrite"], "--resume and --overwrite contradict each other"),
    (["--set", 'schedules={"kdd": "linear:0.5"}'], "unknown component `kdd`"),
    (["--set", "w_lm=0", "--set", "w_kd=0"], "nothing to train"),
]


@pytest.mark.parametrize("args,msg", BAD, ids=[m for _, m in BAD])
def test_user_errors_are_one_line(tmp_path, play, args, msg):
    r = sakd_train("--out", tmp_path/"run", "--max_steps", 2, "--data", play, *args)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = [l for l in r.stderr.splitlines() if l.strip() and not l.startswith("sakd_train: warning:")]
    assert len(lines) == 1 and lines[0].startswith("sakd_train: error: ") and msg in lines[0], r.stderr[-2000:]
    assert "Traceback" not in r.stderr
