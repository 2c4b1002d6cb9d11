"""DDP on CPU (gloo): two processes with batch 2 each train like one process with batch 4, the same global batch.
The losses normalize by the valid-token count of the whole global batch, so the two runs differ only by the order
of floating-point sums."""
import json, os, shutil, socket, subprocess, sys
from pathlib import Path
import pytest, torch
from safetensors.torch import load_file
from sakd_nb.models import corpus_files, load_model
from sakd_nb.trainer import read_jsonl

torch.set_num_threads(1)   # two cores shared with other test processes: one thread each avoids OpenMP spin-waits
ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
DRIVER = """
import json, sys
from sakd_nb.cli import make_config, train
d = train(make_config("tiny", None, json.loads(sys.argv[1])), progress=False, report=False)
print("world", d.world, flush=True)
"""


def free_port():
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def run(tmp_path, name, nproc, batch_size, play, **kw):
    out = tmp_path/name
    cfg = dict(data=str(play), max_steps=6, batch_size=batch_size, grad_accum=2, block_size=32, warmup_steps=1, log_every=1,
               eval_every=3, eval_batches=2, save_every=3, out_dir=str(out), **kw)
    driver = tmp_path/"driver.py"; driver.write_text(DRIVER)
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    cmd = ([torchrun, f"--nproc_per_node={nproc}", f"--master_port={free_port()}", str(driver)] if nproc > 1 else [sys.executable, str(driver)])
    r = subprocess.run([*cmd, json.dumps(cfg)], env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"world {nproc}" in r.stdout
    return out


@pytest.fixture(scope="module")
def play(tmp_path_factory):
    p = tmp_path_factory.mktemp("data")/"play.txt"
    p.write_text(corpus_files("train")[3].read_text()[:20000])
    return p


@pytest.mark.parametrize("extra", [{}, {"w_hidden": 0.5}], ids=["lm+kd", "with projectors"])
def test_two_processes_match_one(tmp_path, play, extra):
    one, two = run(tmp_path, "one", 1, 4, play, **extra), run(tmp_path, "two", 2, 2, play, **extra)
    m1, m2 = read_jsonl(one/"metrics.jsonl"), read_jsonl(two/"metrics.jsonl")
    assert [r["step"] for r in m2] == list(range(1, 7))
    for a, b in zip(m1, m2):
        assert a["tokens"] == b["tokens"]                                   # the same sequences, split over two processes
        for k in a:
            if k.startswith(("loss", "grad_norm")): assert b[k] == pytest.approx(a[k], rel=1e-5), (a["step"], k)
    e1, e2 = read_jsonl(one/"eval.jsonl"), read_jsonl(two/"eval.jsonl")
    for a, b in zip(e1, e2):
        for k in ("val_loss", "val_bpb", "teacher_bpb", "top1_agree"): assert b[k] == pytest.approx(a[k], rel=1e-5), k
    w1, w2 = load_file(str(one/"student"/"model.safetensors")), load_file(str(two/"student"/"model.safetensors"))
    init = {k: v for k, v in load_model("sakd:tiny-student-cross").state_dict().items()}
    diff = sum(((w1[k] - w2[k])**2).sum() for k in w1); moved = sum(((w1[k] - init[k])**2).sum() for k in w1)
    assert (diff/moved).sqrt() < 1e-3, float((diff/moved).sqrt())        # far below the distance the weights travelled
