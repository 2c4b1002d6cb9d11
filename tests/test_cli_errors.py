"""`sakd_train` run for real on user errors: exit status 2, one `sakd_train: error: ... Fix: ...` line on stderr, never a traceback."""
import os, subprocess, sys
from pathlib import Path
import pytest

CLI = [sys.executable, "-m", "sakd_nb.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run_cli(args, cwd, cmd=CLI, timeout=300):
    "Run the CLI with `args` in folder `cwd`; returns the finished process."
    return subprocess.run([*cmd, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)


def assert_user_error(p, *names):
    "Exit status 2, stderr exactly one error line naming `names` and a fix, no traceback anywhere."
    out = p.stdout + p.stderr
    assert "Traceback" not in out, out
    assert p.returncode == 2, (p.returncode, out)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    line = lines[0]
    assert line.startswith("sakd_train: error: ") and ". Fix: " in line, line
    what, fix = line.removeprefix("sakd_train: error: ").split(". Fix: ", 1)
    assert what.strip() and fix.strip(), line
    for n in names: assert n.lower() in line.lower(), (n, line)
    return line


@pytest.fixture
def files(tmp_path):
    "A folder with a config that is not JSON and one with a value of the wrong type."
    (tmp_path/"bad.json").write_text("{'kd_kind': 'rkl'}")   # Python quotes, not JSON
    (tmp_path/"types.json").write_text('{"batch_size": "8"}')
    return tmp_path


CASES = {
    "unknown preset": (["--preset", "tiny-sam"], ["preset", "tiny-sam", "tiny-same"]),
    "config file not JSON": (["--config", "bad.json"], ["bad.json", "not valid JSON"]),
    "config file missing": (["--config", "missing.json"], ["missing.json", "does not exist"]),
    "unknown field override": (["--set", "temprature=2"], ["temprature", "temperature"]),
    "override of the wrong type": (["--set", "batch_size=eight"], ["batch_size=eight"]),
    "override without a value": (["--set", "kd_kind"], ["kd_kind", "field=value"]),
    "temperature 0": (["--temperature", "0"], ["temperature must be > 0"]),
    "temperature 0 via --set": (["--set", "temperature=0"], ["temperature must be > 0"]),
    "unknown kd_kind": (["--kd_kind", "kl"], ["kd_kind", "kl"]),
    "resume and overwrite": (["--resume", "--overwrite"], ["--resume", "--overwrite"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_config_errors(case, files):
    args, names = CASES[case]
    assert_user_error(run_cli(args, files), *names)


def test_missing_model_path(files):
    "A teacher path that does not exist fails when the models are loaded, before anything is written."
    p = run_cli(["--teacher", "./no/such/teacher", "--max_steps", "1", "--out", "run"], files)
    assert_user_error(p, "./no/such/teacher", "does not exist")
    assert not (files/"run").exists()


def test_console_script(files):
    "The installed `sakd_train` entry point behaves like `python -m sakd_nb.cli`."
    exe = Path(sys.executable).parent/"sakd_train"
    if not exe.exists(): pytest.skip("sakd_train is not installed next to this Python")
    assert_user_error(run_cli(["--preset", "tiny-sam"], files, cmd=[str(exe)]), "tiny-sam")


def test_config_value_of_wrong_type(files):
    assert_user_error(run_cli(["--config", "types.json"], files), "batch_size")
