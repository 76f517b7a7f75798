"""The HDF5 store: written while reading, read back lazily and identically, validated in
blocks; `ela data convert` in worker processes; training and attacking from a store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from conftest import shared
from ela.cli import main
from ela.data.convert import convert
from ela.data.dataset import SkeletonDataset, collate
from ela.data.fingerprint import data_fingerprint
from ela.errors import DataFormatError
from ela.io import StoreSet, detect_format, read, write_npz, write_store
from ela.io.ntu import parse_skeleton_file, parse_text_fast, parse_text_lines
from ela.runs.attack import run_attack
from ela.runs.job import AttackJob


@pytest.fixture(scope="module")
def msr():
    return read(shared("msr_action3d"), format="msr")


@pytest.fixture(scope="module")
def msr_store(msr, tmp_path_factory):
    return write_store(msr, tmp_path_factory.mktemp("store") / "store")


def test_store_reads_back_every_sample_label_and_meta(msr, msr_store):
    store = read(msr_store)
    assert isinstance(store, StoreSet) and len(store) == len(msr)
    assert detect_format(msr_store) == detect_format(msr_store.parent) == "store"
    assert store.layout.name == msr.layout.name and store.fps == msr.fps
    assert store.skipped == msr.skipped and store.persons() == 1
    assert np.array_equal(store.labels("action"), msr.labels("action"))
    assert store.meta("subject") == msr.meta("subject")
    for i in (0, 17, len(msr) - 1):
        assert np.array_equal(store.samples[i].data, msr.samples[i].data)
        assert store.samples[i].meta == json.loads(json.dumps(msr.samples[i].meta))
    iterated = list(store.samples)
    assert [s.frames for s in iterated] == [s.frames for s in msr.samples]


def test_store_digest_is_the_fingerprint_of_its_samples(msr, msr_store):
    """The digest written with the store is what `data_fingerprint` computes over the
    samples: a run trained on the .npz and attacked with the store sees the same data."""
    store = read(msr_store)
    assert data_fingerprint(store)["digest"] == data_fingerprint(msr)["digest"]
    view = store.subset([5, 2, 9])
    assert data_fingerprint(view)["digest"] == data_fingerprint(msr.subset([5, 2, 9]))["digest"]
    assert np.array_equal(view.labels("action"), msr.labels("action")[[5, 2, 9]])


def test_store_summary_matches_the_in_memory_one(msr, msr_store):
    a, b = read(msr_store).summary(), msr.summary()
    assert {k: v for k, v in a.items() if k != "source"} == \
        {k: v for k, v in b.items() if k != "source"}


def test_store_validation_names_the_bad_sample_and_file(msr_store, tmp_path):
    bad = tmp_path / "bad"
    shutil.copy(msr_store, bad)
    with h5py.File(bad, "r+") as h:
        start = int(h["offsets"][3])
        h["frames"][start + 1, 0, 0, 0] = np.nan
    store = read(bad)
    with pytest.raises(DataFormatError, match=r"sample 3 \(a01_s02_e01\) holds NaN"):
        store.summary()
    store.close()
    with h5py.File(bad, "r+") as h:
        h.attrs["format"] = "other"
    with pytest.raises(DataFormatError, match="not an ela store"):
        read(bad, format="store")
    (tmp_path / "text").write_text("not hdf5")
    with pytest.raises(DataFormatError, match="cannot read as an ela store"):
        read(tmp_path / "text", format="store")


def test_store_items_are_read_in_dataloader_workers(msr_store):
    """Each worker opens the store itself; the items are those of this process."""
    store = read(msr_store)
    ds = SkeletonDataset(store, "action", 32, indices=np.arange(40))
    plain = collate([ds[k] for k in range(len(ds))])
    loaded = [b for b in DataLoader(ds, batch_size=8, num_workers=2, collate_fn=collate)]
    assert torch.equal(torch.cat([b[0] for b in loaded]), plain[0])
    assert torch.equal(torch.cat([b[1] for b in loaded]), plain[1])


def test_fast_ntu_parse_equals_the_line_parser():
    for f in sorted(shared("ntu_samples").glob("*.skeleton")):
        text = f.read_text(encoding="utf-8")
        fast = parse_text_fast(text)
        assert fast is not None, f
        slow = parse_text_lines(f, text)
        assert np.array_equal(fast[0], slow[0]) and fast[1] == slow[1]


def test_damaged_ntu_file_still_names_its_line(tmp_path):
    src = sorted(shared("ntu_samples").glob("*.skeleton"))[0]
    lines = src.read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split()[1], "x1", 1)
    bad = tmp_path / src.name
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match="line 6: non-numeric value 'x1'"):
        parse_skeleton_file(bad)


def test_convert_in_workers_skips_bad_files_and_equals_the_reader(tmp_path):
    src = tmp_path / "ntu"
    shutil.copytree(shared("ntu_samples"), src)
    first = sorted(src.glob("*.skeleton"))[0]
    (src / "S009C001P001R001A001.skeleton").write_text(first.read_text()[:4000])
    done = convert(src, tmp_path / "store", workers=2)
    assert done.samples == 5 and done.files == 6
    assert done.skipped == [(str(src / "S009C001P001R001A001.skeleton"),
                             "line 47: file ends inside a body's joint block (truncated?)")]
    store, ref = read(tmp_path / "store"), read(shared("ntu_samples"), format="ntu")
    assert [s.meta["name"] for s in store.samples] == [s.meta["name"] for s in ref.samples]
    for a, b in zip(store.samples, ref.samples, strict=True):
        assert np.array_equal(a.data, b.data) and a.labels == b.labels
    assert main(["data", "convert", str(src), "--out", str(tmp_path / "x.npz"), "--only",
                 "action=A058,A011"]) == 0
    assert len(read(tmp_path / "x.npz")) == 2


def test_attack_reads_the_store_as_it_reads_the_npz(tmp_path):
    """Train on the .npz, attack from the .npz and from a store of the same data: the same
    samples are chosen and the results are identical."""
    from ela.data.demo import demo_dataset
    from ela.training.loop import TrainConfig
    from ela.training.run import run_training
    from test_shards import SAME, arrays

    data = demo_dataset(n_per_class=4, frames=24, actions=("walk", "wave", "bow"), seed=3)
    npz = write_npz(data, tmp_path / "demo.npz")
    store_file = write_store(read(npz), tmp_path / "store")
    run = tmp_path / "hcn"
    run_training(read(npz), "hcn", "action", run, model_cfg={"width": 0.25}, frames=16,
                 split="holdout:0.4,0.1,0.5", train_config=TrainConfig(epochs=8), seed=0,
                 progress=False, log=lambda _: None)
    job = AttackJob.from_flags(run, "ela", tmp_path / "a", iters=30, samples=4, seed=1,
                               batch_size=2, device="cpu")
    a = run_attack(job, read(npz), progress=False)
    b = run_attack(job.moved(tmp_path / "b"), read(store_file), progress=False)
    assert a["data_fingerprint"]["digest"] == b["data_fingerprint"]["digest"]
    x, y = arrays(tmp_path / "a"), arrays(Path(tmp_path / "b"))
    for key in (*SAME, "table"):
        assert np.array_equal(x[key], y[key]), key


def test_train_from_a_store_with_dataloader_workers(msr_store, tmp_path):
    """`ela train --num-workers 2` on a store: the same run as in one process."""
    common = ["train", "--model", "hcn", "--data", str(msr_store), "--label", "action",
              "--epochs", "1", "--frames", "16", "--cfg", "width=0.25", "--device", "cpu"]
    assert main([*common, "--out", str(tmp_path / "w0")]) == 0
    assert main([*common, "--out", str(tmp_path / "w2"), "--num-workers", "2"]) == 0
    a, b = (json.loads((tmp_path / w / "metrics.json").read_text()) for w in ("w0", "w2"))
    for key in ("accuracy", "uar", "loss", "confusion"):
        assert a[key] == b[key], key
