"""Execute notebooks in place with a real kernel so the docs pages (nbdev_docs, sakd_docs) show their outputs.

Usage: .venv/bin/python scripts/execute_docs.py nbs/index.ipynb nbs/08_viz.ipynb ...
Then run `nbdev_clean` and `sakd_docs --readme`. Tests never depend on stored outputs.
"""
import os, sys, time
import nbformat
from nbclient import NotebookClient

# no "Loading weights" progress widgets in the pages: they would be stored as widget state, not as anything readable
os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", HF_HUB_DISABLE_PROGRESS_BARS="1")
os.environ.pop("MPLBACKEND", None)  # inline figures, not Agg
def _no_eval(c): return c.cell_type == "code" and any(l.replace(" ", "") == "#|eval:false" for l in c.source.splitlines())

for p in sys.argv[1:]:
    nb, t = nbformat.read(p, as_version=4), time.time()
    skip = [c for c in nb.cells if _no_eval(c)]   # GPU/internet cells: nbclient skips this tag
    for c in skip: c.metadata.setdefault("tags", []).append("skip-execution")
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(os.path.abspath(p))}}).execute()
    for c in skip:
        c.metadata["tags"].remove("skip-execution")
        if not c.metadata["tags"]: del c.metadata["tags"]
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, p)
    imgs = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    print(f"{p}: {time.time() - t:.0f}s, {imgs} images, {os.path.getsize(p) // 1024} KB", flush=True)
