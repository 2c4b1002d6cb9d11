"""Run the Kaggle kernel notebook headlessly in smoke mode (tiny offline models on CPU, a few steps).

The kernel's cells are the ones a Kaggle P100 runs; with `SAKD_SMOKE=1` they pick the tiny preset. The test checks
that every cell runs, that the live view and the final plots left PNG images in the outputs, that the memory
gauge is there, and that the run, its report and the saved student are on disk."""
import os, sys
from pathlib import Path
import nbformat, pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
KERNEL = ROOT/"kaggle"/"sakd-p100.ipynb"

def _texts(nb):
    "All text the executed notebook shows: streams, plain text and HTML of every output."
    for c in nb.cells:
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream": yield o.get("text", "")
            for mime in ("text/plain", "text/html"):
                v = o.get("data", {}).get(mime)
                if v: yield v if isinstance(v, str) else "".join(v)

def _images(nb): return [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]

@pytest.mark.slow
def test_kaggle_kernel_smoke(tmp_path, monkeypatch):
    for k, v in dict(SAKD_SMOKE="1", SAKD_OUT=str(tmp_path/"out"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
                     TOKENIZERS_PARALLELISM="false", CUDA_VISIBLE_DEVICES="").items():
        monkeypatch.setenv(k, v)   # the kernel process inherits this environment
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(KERNEL, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    text = "\n".join(_texts(nb))
    assert "SMOKE = True" in text
    assert "memory gauge:" in text                      # the gauge line, live (HTML) and final (printed)
    assert "fits" in text and "teacher weights" in text # the memory plan table
    imgs = _images(nb)
    assert len(imgs) >= 3, f"expected the live view and two final plots, got {len(imgs)} images"
    out = tmp_path/"out"
    assert (out/"run"/"report.png").stat().st_size > 10_000
    assert (out/"student"/"config.json").exists()
    assert len((out/"run"/"metrics.jsonl").read_text().splitlines()) >= 4
