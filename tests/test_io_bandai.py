"""Bandai-Namco motion datasets: the real folders, and small folders copied and edited here."""

from __future__ import annotations

import json
import shutil
import time
from functools import lru_cache

import numpy as np
import pytest

from ela.errors import DataFormatError
from ela.io import read

SECONDS: dict[str, float] = {}


@lru_cache
def _read(path: str):
    start = time.perf_counter()
    s = read(path)
    SECONDS[path] = time.perf_counter() - start
    return s


def test_bandai1(shared_data):
    folder = shared_data("bandai1")
    s = _read(str(folder))
    assert len(s) == 174 and s.layout.name == "bandai21" and s.fps == 30.0
    assert s.skipped == [(str(folder / "data" / "dataset-1_dance-long_normal_001.json"),
                          "label file without its BVH motion")]
    assert s.label_names["content"][:3] == ["walk", "run", "dash"]
    assert s.label_names["style"][:4] == ["normal", "happy", "sad", "angry"]
    for x in s.samples:
        assert s.label_names["content"][x.labels["content"]] == x.meta["content"]
        assert s.label_names["style"][x.labels["style"]] == x.meta["style"]
        assert x.data.shape[::2] == (3, 21) and x.data.dtype == np.float32


def test_bandai1_walks_are_upright_metres(shared_data):
    s = _read(str(shared_data("bandai1")))
    lay = s.layout
    head, hips = lay.index("Head"), lay.index("Hips")
    feet = [lay.index(n) for n in ("Foot_L", "Toes_L", "Foot_R", "Toes_R")]
    walks = [x for x in s.samples if x.meta["content"] == "walk"]
    assert len(walks) == 30
    for x in walks:
        y = x.data[1, :, :, 0]
        upright = (y[:, head] > y[:, hips]) & (y[:, hips] > y[:, feet].max(axis=1))
        assert upright.mean() >= 0.95, x.meta["name"]
        height = y[:, head] - y[:, feet].min(axis=1)
        assert height.min() > 1.2 and height.max() < 2.0, x.meta["name"]
        travel = np.linalg.norm(x.data[[0, 2], -1, hips, 0] - x.data[[0, 2], 0, hips, 0])
        assert travel > 1.0, x.meta["name"]


def test_bandai1_bone_lengths_constant(shared_data):
    s = _read(str(shared_data("bandai1")))
    child = np.array([c for c, _ in s.layout.bones])
    parent = np.array([p for _, p in s.layout.bones])
    for x in s.samples:
        bones = np.linalg.norm(x.data[:, :, child, 0] - x.data[:, :, parent, 0], axis=0)
        rel = np.abs(bones - bones.mean(axis=0)) / bones.mean(axis=0)
        assert rel.max() < 1e-3, x.meta["name"]


def test_bandai2(shared_data):
    folder = shared_data("bandai2")
    s = _read(str(folder))
    assert len(s) == 560 and not s.skipped
    assert len(set(s.labels("content"))) == 10 and len(set(s.labels("style"))) == 7
    assert len(s.label_names["content"]) == 10 and len(s.label_names["style"]) == 7
    counts = np.bincount(s.labels("content") * 7 + s.labels("style"), minlength=70)
    assert (counts == 8).all()
    assert SECONDS[str(folder)] < 60


def _mini(tmp_path, folder, names):
    root = tmp_path / "bandai"
    (root / "data").mkdir(parents=True)
    shutil.copytree(folder / "cfg", root / "cfg")
    for n in names:
        for ext in (".bvh", ".json"):
            shutil.copy(folder / "data" / (n + ext), root / "data" / (n + ext))
    return root


def test_label_disagreement_and_hierarchy_check(tmp_path, shared_data):
    folder = shared_data("bandai1")
    names = ["dataset-1_bow_active_001", "dataset-1_walk_sad_001", "dataset-1_run_happy_001"]
    root = _mini(tmp_path, folder, names)
    (root / "data" / (names[0] + ".json")).write_text(json.dumps({"content": 1, "style": 11}))
    bvh = root / "data" / (names[2] + ".bvh")
    bvh.write_text(bvh.read_text().replace("JOINT Neck", "JOINT Throat", 1))
    s = read(root, "bandai")
    assert [x.meta["name"] for x in s.samples] == [names[1]]
    reasons = dict(s.skipped)
    assert "json labels {'content': 1, 'style': 11} disagree with the name" in \
        reasons[str(root / "data" / (names[0] + ".bvh"))]
    assert "does not match layout bandai21" in reasons[str(bvh)]
    with pytest.raises(DataFormatError) as err:
        read(bvh)
    assert err.value.path == str(bvh)
    one = read(root / "data" / (names[1] + ".bvh"))
    assert one.samples[0].meta["take"] == "001" and one.samples[0].labels["style"] == 2
