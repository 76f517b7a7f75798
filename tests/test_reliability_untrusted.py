"""Untrusted files: checkpoints are safetensors + JSON only, nothing is unpickled freely, and
a checkpoint that disagrees with the data is refused before any work starts."""

from __future__ import annotations

import ast
import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

import ela
import ela.runs.select as select_module
from ela.cli import main
from ela.data.demo import demo_dataset
from ela.errors import CheckpointError
from ela.io import write_npz
from ela.training.checkpoint import load

SRC = Path(ela.__file__).resolve().parent
RESTRICTED_UNPICKLER = SRC / "io" / "_common.py"


def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    """(dotted name, node) of every call, e.g. ("torch.load", node)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts, f = [], node.func
            while isinstance(f, ast.Attribute):
                parts.append(f.attr)
                f = f.value
            if isinstance(f, ast.Name):
                parts.append(f.id)
            out.append((".".join(reversed(parts)), node))
    return out


def test_no_pickle_loading_outside_the_restricted_unpickler():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20
    found = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, node in _calls(tree):
            where = f"{path.relative_to(SRC)}:{node.lineno}"
            if name in ("torch.load", "joblib.load", "dill.load", "dill.loads",
                        "yaml.load", "yaml.unsafe_load", "marshal.loads", "shelve.open"):
                found.append(f"{where} {name}")
            if name in ("pickle.load", "pickle.loads", "pickle.Unpickler", "_pickle.load") \
                    and path != RESTRICTED_UNPICKLER:
                found.append(f"{where} {name}")
            if name in ("np.load", "numpy.load"):
                kw = {k.arg: k.value for k in node.keywords}
                flag = kw.get("allow_pickle")
                if not (isinstance(flag, ast.Constant) and flag.value is False):
                    found.append(f"{where} {name} without allow_pickle=False")
    assert not found, "unsafe loading of user files:\n" + "\n".join(found)
    text = RESTRICTED_UNPICKLER.read_text()
    assert "class _SafeUnpickler(pickle.Unpickler)" in text and "def find_class" in text


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.npz"
    write_npz(demo_dataset(n_per_class=2, frames=24, actions=("walk", "wave", "bow"), seed=2),
              path)
    return path


@pytest.fixture(scope="module")
def run(demo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "hcn"
    assert main(["train", "--model", "hcn", "--data", str(demo), "--label", "action",
                 "--out", str(out), "--frames", "16", "--epochs", "2", "--split",
                 "holdout:0.6,0.1,0.3", "--cfg", "width=0.25", "window=16"]) == 0
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(run, dst)
    return dst


class _Marker:
    """A pickle payload that would create a file if it were ever executed."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_pickled_weights_are_refused_without_running_them(run, tmp_path):
    bad = _copy(run, tmp_path)
    marker = tmp_path / "executed"
    (bad / "model.safetensors").write_bytes(pickle.dumps({"weights": _Marker(marker)}))
    with pytest.raises(CheckpointError, match="model.safetensors: not a readable safetensors"):
        load(bad)
    torch.save({"weights": _Marker(marker)}, bad / "model.safetensors")
    with pytest.raises(CheckpointError, match="safetensors"):
        load(bad)
    assert not marker.exists()


@pytest.mark.parametrize("config", [
    "{not json",
    json.dumps({"format": "something-else"}),
    json.dumps({"format": "ela-checkpoint", "model": {"name": "__import__"}}),
    json.dumps({"format": "ela-checkpoint", "format_version": 99, "model": {"name": "hcn"}}),
])
def test_malformed_or_hostile_config_is_a_checkpoint_error(run, tmp_path, config):
    bad = _copy(run, tmp_path)
    (bad / "config.json").write_text(config)
    with pytest.raises(CheckpointError, match="config.json"):
        load(bad)


def _tamper(run: Path, tmp_path: Path, **changes) -> Path:
    bad = _copy(run, tmp_path)
    config = json.loads((bad / "config.json").read_text())
    for key, value in changes.items():
        if key == "layout":
            config["model"]["layout"] = value
        else:
            config[key] = value
    (bad / "config.json").write_text(json.dumps(config))
    return bad


@pytest.mark.parametrize("command", ["attack", "eval"])
@pytest.mark.parametrize("mismatch, extra, message", [
    ("layout", ["--layout", "gait16"], "trained on layout 'ntu25' but the data has layout "
                                       "'gait16'"),
    ("joints", [], "model expects 20 joints but the data has 25"),
    ("classes", ["--only", "action=walk,bow"], "differ from the data's classes"),
])
def test_checkpoint_that_disagrees_with_the_data_fails_before_any_work(
        run, demo, tmp_path, monkeypatch, capsys, command, mismatch, extra, message):
    target = _tamper(run, tmp_path, num_joints=20) if mismatch == "joints" else run

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the checkpoint was checked")

    monkeypatch.setattr(select_module, "correct_samples", no_work)
    monkeypatch.setattr("ela.training.run.evaluate", no_work)
    out = tmp_path / "out"
    code = main([command, str(target), "--data", str(demo), *extra, "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and str(target) in err
    assert not out.exists()
