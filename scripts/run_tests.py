"""Run the whole test suite and print one closing line `N passed, N failed`.

1. sync: `nbdev_export` and `nbdev_clean` must leave tracked files unchanged (notebooks are the source);
2. every notebook through `nbdev_test` (one process per notebook, two at a time, so a failure names its notebook);
3. pytest on tests/ (processes, files, signals).
"""
import os, re, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FAST = "--fast" in sys.argv
os.chdir(ROOT)

def run(cmd, timeout=3600, **kw):
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    return p.returncode, p.stdout + p.stderr, time.time() - t

def git_state():
    if not (ROOT/".git").exists(): return None
    return run(["git", "status", "--porcelain", "--untracked-files=no"])[1] + run(["git", "diff"])[1]

passed, failed = [], []
def record(name, ok, out="", secs=0.0):
    (passed if ok else failed).append(name)
    print(f"{'PASS' if ok else 'FAIL'} {name} ({secs:.0f}s)", flush=True)
    if not ok: print("\n".join(out.strip().splitlines()[-60:]), flush=True)

# 1. notebooks and library in sync
before = git_state()
rc1, out1, s1 = run([str(BIN/"nbdev_export")]); rc2, out2, s2 = run([str(BIN/"nbdev_clean")])
rc3, out3, _ = run([str(BIN/"sakd_docs"), "--readme"])
rc2, out2 = max(rc2, rc3), out2 + out3
after = git_state()
ok = rc1 == 0 and rc2 == 0 and before == after
record("sync: nbdev_export, nbdev_clean and README leave git unchanged", ok,
       out1 + out2 + ("" if before == after else f"changed:\n{after}"), s1 + s2)

# fixtures once, before notebooks run in parallel (each would otherwise build them)
rc, out, s = run([sys.executable, "-c", "import transformers; transformers.logging.set_verbosity_error()\n"
                  "from sakd_nb.models import fixture_path\n"
                  "for n in ['tiny-teacher-cross','tiny-student-cross','tiny-teacher-same','tiny-student-same','tiny-teacher-trained']: fixture_path(n)"])
record("fixtures build offline", rc == 0, out, s)

# 2. notebooks
nbs = sorted(p for p in (ROOT/"nbs").glob("*.ipynb") if not p.name.startswith("_"))
flags = [] if FAST else ["--flags", "slow"]
def test_nb(p): return p, *run([str(BIN/"nbdev_test"), "--path", str(p), "--do_print", *flags], timeout=1800)
with ThreadPoolExecutor(2) as ex:
    for p, rc, out, s in ex.map(test_nb, nbs):
        record(f"notebook {p.name}", rc == 0 and "Success" in out, out, s)

# 3. pytest
args = [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"] + (["-m", "not slow"] if FAST else [])
rc, out, s = run(args)
print("\n".join(out.strip().splitlines()[-40:]), flush=True)
m_pass = re.search(r"(\d+) passed", out); m_fail = re.search(r"(\d+) failed", out); m_err = re.search(r"(\d+) error", out)
n_pass, n_fail = int(m_pass[1]) if m_pass else 0, (int(m_fail[1]) if m_fail else 0) + (int(m_err[1]) if m_err else 0)
if rc not in (0, 5) and n_fail == 0: n_fail = 1  # pytest itself broke (collection error, crash)
print(f"pytest: {n_pass} passed, {n_fail} failed ({s:.0f}s)")
total_pass, total_fail = len(passed) + n_pass, len(failed) + n_fail
if failed: print("failed:", *failed, sep="\n  ")
print(f"{total_pass} passed, {total_fail} failed")
sys.exit(1 if total_fail else 0)
