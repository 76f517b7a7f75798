"""docs/own_model.md holds to its word: its Python blocks, run in order as written in a
folder laid out like a clone after `make run` (the demo's data in out/demo/), print what the
page says they print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ela.data import demo_dataset
from ela.data.demo import GESTURES
from ela.io import write_npz

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "own_model.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def page_code() -> str:
    """Every ```python block of the page, in order, as one program."""
    blocks = BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 6, "docs/own_model.md lost its code blocks"
    return "\n".join(blocks)


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_own_model_page_runs_as_written(tmp_path: Path):
    # the data `ela demo` (make run) writes, with the demo's parameters
    write_npz(demo_dataset(n_per_class=10, frames=48, seed=0, actions=GESTURES, variation=1.0),
              tmp_path / "out" / "demo" / "demo_data.npz")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", page_code()], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    page = one_line(PAGE.read_text(encoding="utf-8"))
    assert f"It prints `{lines[0]}`" in page, lines[0]  # the dataset's one-line repr
    assert re.fullmatch(r"ela: 6 of 6 fooled \(0 misclassified\), ΔB/B [\d.]+%", lines[4])
    assert re.fullmatch(r"cw: \d of 6 fooled \(0 misclassified\), ΔB/B [\d.]+%", lines[5])
    assert lines[7].startswith("misclassified 1, attacked 5, success ")
    assert f"It prints `{lines[8]}`" in page  # the tuple model's error, word for word
    assert "LogitsOnly" in lines[8]
    assert lines[9].startswith("6 of 6 attacked samples fooled")
