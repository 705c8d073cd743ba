"""tools/gpu_check.py, the GPU path's check, where it can run without a GPU: it says there is no
CUDA device and exits 0, having run nothing; its table is one markdown table."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU: tools/gpu_check.py runs it all")
def test_without_cuda_it_says_so_and_exits_cleanly(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "tools" / "gpu_check.py")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("gpu_check: no CUDA device:") and "nothing was run" in done.stdout
    assert done.stdout.count("\n") == 1 and not done.stderr  # one sentence, no traceback
    assert not list(tmp_path.iterdir())  # nothing written


def test_the_table_is_one_markdown_table():
    sys.path.insert(0, str(REPO))
    from tools.gpu_check import Table

    table = Table("cuda")
    table.add("bench 1280x720 rvm fast", "3.10 ms | odd", "40.2 ms", "100 frames")
    table.add("pytest -m cuda", "9 passed")
    lines = table.markdown().splitlines()
    assert lines[0] == "| check | cuda | cpu | notes |" and lines[1] == "|---|---|---|---|"
    assert len(lines) == 4 and all(line.count("|") == 5 for line in lines)  # a | in a cell cannot split it
