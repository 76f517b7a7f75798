"""Readers under bad input: every mutated or generated file is read or refused cleanly.

Each reader (NTU, ntu-npy, Kinetics JSON, pyskl, MSR, BVH, Bandai, npz) gets real files from
../shared/data (cut to a few frames so that an example takes milliseconds) or files written
here, mutated by Hypothesis: truncated at random points, bytes replaced, tokens swapped for
NaN / inf / junk / huge numbers, lines dropped or doubled, fields of structured files
replaced by wrong types, shapes or values. The outcome must be either a `SkeletonSet` whose
samples are finite float32 arrays of the layout's joint count with at least one frame and
one non-zero value and labels inside their name lists (or −1, unlabelled), or a
`DataFormatError` that names the file — never another exception, a silent all-zero array or
a hang (every example runs under a wall-clock alarm and a Hypothesis deadline).

Run with ``-s`` to print how many cases each reader was given (docs/reliability.md quotes the
total).
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import re
import shutil
import signal
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import shared
from ela.data.demo import demo_dataset
from ela.errors import DataFormatError
from ela.io import UNLABELLED, SkeletonSet, read, write_npz

CASES: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()
TIME_LIMIT_S = 5.0

FUZZ = settings(max_examples=150, deadline=3000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SMALL = settings(FUZZ, max_examples=60)

BAD_TOKENS = [b"nan", b"NaN", b"inf", b"-inf", b"Infinity", b"1e309", b"-1e309", b"abc", b"",
              b"-1", b"0", b"1", b"2", b"24", b"99999999", b"1e20", b"0.5", b"\xff\xfe",
              b"1,5", b"{", b"}", b"[", b"]", b"null", b'"x"', b"JOINT", b"End", b"Site",
              b"CHANNELS", b"MOTION", b"ROOT", b"OFFSET", b"Frames:", b"Qrotation",
              b"Wposition", b"true"]


class _HangError(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise _HangError if the block runs longer than `seconds` (SIGALRM, main thread)."""
    def on_alarm(signum, frame):
        raise _HangError(f"reader ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def check_sample_set(s: SkeletonSet) -> None:
    assert isinstance(s, SkeletonSet)
    v = s.layout.num_joints
    for sample in s.samples:
        x = sample.data
        assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 4
        assert x.shape[2] == v, f"{x.shape} for layout {s.layout.name}"
        assert x.shape[1] >= 1, "a sample without frames"
        assert np.isfinite(x).all(), "NaN or inf reached a sample"
        assert np.abs(x).max() > 0, "a silent all-zero sample"
        for key, value in sample.labels.items():
            names = s.label_names.get(key)
            assert isinstance(value, int) and (value >= 0 or value == UNLABELLED)
            if names:
                assert value < len(names), f"label {key}={value} beyond {len(names)} names"
    if not s.samples:
        assert s.skipped, "nothing read and nothing said about why"


def outcome(fmt: str, path: Path, named: tuple[Path, ...] = (), **opts) -> str:
    """Read `path`; "ok" for a valid set, "error" for a DataFormatError naming a file."""
    CASES[fmt] += 1
    with time_limit(TIME_LIMIT_S):
        try:
            s = read(path, format=fmt, **opts)
        except DataFormatError as err:
            names = [str(p) for p in (path, *named)]
            assert any(err.path.startswith(n) or n.startswith(err.path) for n in names), \
                f"error names {err.path!r}, not the file read: {err}"
            assert err.problem and err.path in str(err)
            OUTCOMES["refused"] += 1
            return "error"
    check_sample_set(s)
    OUTCOMES["read"] += 1
    return "ok"


# ---- mutations ----------------------------------------------------------------------------

TOKEN = re.compile(rb"\S+")
OPS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("byte"), st.floats(0, 1), st.integers(0, 255)),
    st.tuples(st.just("token"), st.floats(0, 1), st.sampled_from(BAD_TOKENS)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(BAD_TOKENS)),
    st.tuples(st.just("drop_line"), st.floats(0, 1)),
    st.tuples(st.just("dup_line"), st.floats(0, 1)),
)
MUTATIONS = st.lists(OPS, min_size=1, max_size=4)


def _at(frac: float, n: int) -> int:
    return min(int(frac * n), max(n - 1, 0))


def mutate(data: bytes, ops: list[tuple]) -> bytes:
    """Apply byte-, token- and line-level mutations in order."""
    for op in ops:
        kind, where = op[0], op[1]
        if kind == "truncate":
            data = data[: int(where * len(data))]
        elif kind == "byte" and data:
            i = _at(where, len(data))
            data = data[:i] + bytes([op[2]]) + data[i + 1:]
        elif kind in ("token", "insert"):
            tokens = list(TOKEN.finditer(data))
            if not tokens:
                continue
            m = tokens[_at(where, len(tokens))]
            if kind == "token":
                data = data[: m.start()] + op[2] + data[m.end():]
            else:
                data = data[: m.start()] + op[2] + b" " + data[m.start():]
        else:
            lines = data.split(b"\n")
            i = _at(where, len(lines))
            lines[i:i + 1] = [] if kind == "drop_line" else [lines[i], lines[i]]
            data = b"\n".join(lines)
    return data


# ---- seeds: real files cut short, and generated files -------------------------------------

def _ntu_head(path: Path, frames: int) -> bytes:
    """The first `frames` frames of a real NTU file, with the frame count fixed."""
    lines = path.read_text().splitlines()
    out, i = [str(frames)], 1
    for _ in range(frames):
        count = int(lines[i])
        n = 1 + count * 27
        out += lines[i:i + n]
        i += n
    return ("\n".join(out) + "\n").encode()


def _bvh_head(path: Path, frames: int) -> bytes:
    lines = path.read_text().splitlines()
    m = next(k for k, line in enumerate(lines) if line.strip() == "MOTION")
    head = lines[:m + 1] + [f"Frames:\t{frames}", lines[m + 2]] + lines[m + 3:m + 3 + frames]
    return ("\n".join(head) + "\n").encode()


@pytest.fixture(scope="module")
def seeds():
    ntu = shared("ntu_samples")
    msr = shared("msr_action3d")
    bandai = shared("bandai1")
    clip = bandai / "data" / "dataset-1_bow_angry_001.bvh"
    return {
        "ntu": _ntu_head(ntu / "S001C001P001R001A011.skeleton", 4),
        "ntu2": _ntu_head(ntu / "S001C003P008R002A058.skeleton", 3),  # two people
        "msr": b"".join(msr.joinpath("a01_s01_e01_skeleton3D.txt").read_bytes()
                        .splitlines(keepends=True)[:100]),
        "bvh": _bvh_head(clip, 4),
        "bandai_cfg": bandai / "cfg",
        "bandai_json": clip.with_suffix(".json").read_bytes(),
    }


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module", autouse=True)
def report_cases():
    yield
    total = sum(CASES.values())
    per_reader = ", ".join(f"{k} {v}" for k, v in sorted(CASES.items()))
    print(f"\nreader cases tried: {total} ({per_reader}); read {OUTCOMES['read']}, "
          f"refused with DataFormatError {OUTCOMES['refused']}")


# ---- text formats: NTU, MSR, BVH, Bandai ----------------------------------------------------

def test_seeds_read_unmutated(seeds, work):
    for fmt, key, name in (("ntu", "ntu", "S001C001P001R001A011.skeleton"),
                           ("ntu", "ntu2", "S001C003P008R002A058.skeleton"),
                           ("msr", "msr", "a01_s01_e01_skeleton3D.txt"),
                           ("bvh", "bvh", "clip.bvh")):
        path = work / "seed" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(seeds[key])
        assert outcome(fmt, path) == "ok"


@FUZZ
@given(ops=MUTATIONS, two=st.booleans())
def test_ntu_mutated(seeds, work, ops, two):
    path = work / "S001C001P001R001A011.skeleton"
    path.write_bytes(mutate(seeds["ntu2" if two else "ntu"], ops))
    outcome("ntu", path)


@FUZZ
@given(ops=MUTATIONS)
def test_msr_mutated(seeds, work, ops):
    path = work / "a01_s01_e01_skeleton3D.txt"
    path.write_bytes(mutate(seeds["msr"], ops))
    outcome("msr", path)


@FUZZ
@given(ops=MUTATIONS)
def test_bvh_mutated(seeds, work, ops):
    path = work / "clip.bvh"
    path.write_bytes(mutate(seeds["bvh"], ops))
    outcome("bvh", path)


def _bandai_folder(seeds, root: Path) -> Path:
    if root.exists():
        shutil.rmtree(root)
    (root / "data").mkdir(parents=True)
    shutil.copytree(seeds["bandai_cfg"], root / "cfg")
    return root


@SMALL
@given(ops=MUTATIONS, label_ops=st.lists(OPS, max_size=2))
def test_bandai_mutated_clip_and_labels(seeds, work, ops, label_ops):
    root = _bandai_folder(seeds, work / "bandai")
    clip = root / "data" / "dataset-1_bow_angry_001.bvh"
    clip.write_bytes(mutate(seeds["bvh"], ops))
    clip.with_suffix(".json").write_bytes(mutate(seeds["bandai_json"], label_ops)
                                          if label_ops else seeds["bandai_json"])
    outcome("bandai", clip, named=(clip.with_suffix(".json"),))
    outcome("bandai", root)


@pytest.mark.parametrize("channels", ["Zrotation Xrotation Wrotation", "Zrotation Xrotation",
                                      "Xrotation Xrotation Yrotation", "zrotation Xrotation "
                                      "Yrotation", "Zrotation Xrotation Yrotation Zrotation"])
def test_bvh_unknown_or_malformed_channels(seeds, work, channels):
    full = "Xposition Yposition Zposition Zrotation Xrotation Yrotation"
    bad = seeds["bvh"].decode().replace(full, f"Xposition Yposition Zposition {channels}", 1)
    path = work / "channels.bvh"
    path.write_text(bad)
    assert outcome("bvh", path) == "error"
    with pytest.raises(DataFormatError, match="CHANNELS|channel|values"):
        read(path, format="bvh")


def test_targeted_text_cases(seeds, work):
    """Zero frames, wrong joint counts, labels missing or out of range, NaN, empty folders."""
    ntu = seeds["ntu"].decode().splitlines()
    cases = {
        # zero frames / zero bodies in every frame
        ("ntu", "S001C001P001R001A011.skeleton"): ["0"],
        ("ntu", "S001C001P001R001A012.skeleton"): ["2", "0", "0"],
        # wrong joint count, label out of range, no label in the name
        ("ntu", "S001C001P001R001A013.skeleton"): [ntu[0], ntu[1], ntu[2], "24", *ntu[4:]],
        ("ntu", "S001C001P001R001A121.skeleton"): ntu,
        ("ntu", "nolabel.skeleton"): ntu,
        ("msr", "a21_s01_e01_skeleton3D.txt"): seeds["msr"].decode().splitlines(),
        ("msr", "a01_s01_e02_skeleton3D.txt"): seeds["msr"].decode().splitlines()[:19],
        ("msr", "a01_s01_e03_skeleton3D.txt"): ["0 0 0 1"] * 20,
        ("msr", "a01_s02_e01_skeleton3D.txt"): ["nan 0 0 1"] * 20,
        ("msr", "a01_s02_e02_skeleton3D.txt"): [],
    }
    for (fmt, name), lines in cases.items():
        path = work / "targeted" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        assert outcome(fmt, path) == "error", name
    bvh = seeds["bvh"].decode().replace("Frames:\t4", "Frames:\t0")
    (work / "targeted" / "zero.bvh").write_text(bvh)
    assert outcome("bvh", work / "targeted" / "zero.bvh") == "error"
    for fmt in ("ntu", "msr", "bvh", "kinetics", "bandai"):
        empty = work / f"empty_{fmt}"
        empty.mkdir()
        assert outcome(fmt, empty) == "error"


def test_bandai_label_disagreement_and_unknown_style(seeds, work):
    root = _bandai_folder(seeds, work / "bandai_labels")
    good = root / "data" / "dataset-1_bow_angry_001.bvh"
    good.write_bytes(seeds["bvh"])
    good.with_suffix(".json").write_text('{"content": 0, "style": 99}')
    unknown = root / "data" / "dataset-1_bow_furious_001.bvh"
    unknown.write_bytes(seeds["bvh"])
    nolabel = root / "data" / "dataset-1_bow_angry_002.bvh"
    nolabel.write_bytes(seeds["bvh"])
    nolabel.with_suffix(".json").write_text('{"content": 0}')
    for clip in (good, unknown, nolabel):
        assert outcome("bandai", clip, named=(clip.with_suffix(".json"),)) == "error"
    s = read(root, format="bandai")
    assert len(s) == 0 and len(s.skipped) == 3


# ---- Kinetics JSON --------------------------------------------------------------------------

def _kinetics_clip(frames: int = 3, people: int = 2, label: int = 2) -> dict:
    rng = np.random.default_rng(frames * 10 + people)
    data = [{"frame_index": t + 1, "skeleton": [
        {"pose": rng.uniform(0.1, 0.9, 36).round(3).tolist(),
         "score": rng.uniform(0.2, 0.9, 18).round(3).tolist()} for _ in range(people)]}
        for t in range(frames)]
    return {"data": data, "label": "dancing", "label_index": label}


JSON_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                      st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4),
                      st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=40),
                      st.just([]), st.just({}))


def _paths(obj, prefix=()):
    """Every (path) into a JSON value."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _replace(obj, path, value, drop=False):
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return obj


@FUZZ
@given(edits=st.lists(st.tuples(st.floats(0, 1), JSON_JUNK, st.booleans()), min_size=1,
                      max_size=3), byte_ops=st.lists(OPS, max_size=2))
def test_kinetics_structure_and_bytes_mutated(work, edits, byte_ops):
    clip = _kinetics_clip()
    for where, value, drop in edits:
        paths = list(_paths(clip))
        path = paths[_at(where, len(paths))]
        clip = _replace(clip, path, value, drop=drop and bool(path))
    text = json.dumps(clip).encode()  # NaN and Infinity are written as JSON extensions
    path = work / "clip.json"
    path.write_bytes(mutate(text, byte_ops) if byte_ops else text)
    outcome("kinetics", path)


@SMALL
@given(record=st.fixed_dictionaries({}, optional={
    "label_index": st.one_of(st.integers(-3, 10**6), st.text(max_size=3), st.none(),
                             st.floats(allow_nan=True)),
    "label": st.one_of(st.text(max_size=5), st.integers()),
    "has_skeleton": st.one_of(st.booleans(), st.none(), st.integers(0, 1))}),
    table_kind=st.sampled_from(["record", "list", "missing_clip", "not_json"]))
def test_kinetics_label_file_missing_or_out_of_range(work, record, table_kind):
    folder = work / "kin"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "c1.json").write_text(json.dumps(_kinetics_clip()))
    (folder / "c2.json").write_text(json.dumps(_kinetics_clip(frames=4)))
    label_file = work / "kin_label.json"
    table = {"record": {"c1": record, "c2": {"label_index": 1, "label": "run"}},
             "list": [record], "missing_clip": {"c2": record}}.get(table_kind)
    label_file.write_text("{not json" if table is None else json.dumps(table))
    outcome("kinetics", folder, named=(label_file,))
    outcome("kinetics", folder / "c1.json", named=(label_file,), labels=label_file)


def test_kinetics_huge_frame_gap_is_refused_not_allocated(work):
    clip = _kinetics_clip()
    clip["data"][-1]["frame_index"] = 10**12
    path = work / "gap.json"
    path.write_text(json.dumps(clip))
    assert outcome("kinetics", path) == "error"


def test_kinetics_clip_without_any_person_is_refused(work):
    clip = _kinetics_clip()
    for frame in clip["data"]:
        frame["skeleton"] = []
    path = work / "nobody.json"
    path.write_text(json.dumps(clip))
    assert outcome("kinetics", path) == "error"


# ---- pyskl and ntu-npy pickles (restricted unpickler) -----------------------------------------

def _pyskl_obj(v: int = 17, c: int = 2, n: int = 2) -> dict:
    rng = np.random.default_rng(v + c)
    anns = []
    for i in range(n):
        ann = {"frame_dir": f"s{i}", "total_frames": 5, "img_shape": (100, 200), "label": i,
               "keypoint": rng.uniform(1, 90, (2, 5, v, c)).astype(np.float32)}
        if c == 2:
            ann["keypoint_score"] = rng.uniform(0.1, 1, (2, 5, v)).astype(np.float32)
        anns.append(ann)
    return {"split": {"train": ["s0"], "val": ["s1"]}, "annotations": anns}


ARRAYISH = st.one_of(
    JSON_JUNK,
    st.tuples(st.integers(0, 3), st.integers(0, 6), st.sampled_from([0, 17, 18, 25]),
              st.integers(0, 4), st.sampled_from([0.0, 1.0, np.nan, np.inf, 1e30]))
    .map(lambda t: np.full(t[:4], t[4], dtype=np.float32)),
)
PYSKL_FIELDS = ["frame_dir", "total_frames", "img_shape", "label", "keypoint",
                "keypoint_score"]


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 1), st.sampled_from(PYSKL_FIELDS), ARRAYISH,
                                st.booleans()), max_size=3),
       top=st.sampled_from(["ok", "split_list", "split_int", "no_annotations", "empty",
                            "ann_not_dict"]),
       three_d=st.booleans(), byte_ops=st.lists(OPS, max_size=2))
def test_pyskl_mutated(work, edits, top, three_d, byte_ops):
    obj = _pyskl_obj(v=25 if three_d else 17, c=3 if three_d else 2)
    for i, key, value, drop in edits:
        if drop:
            obj["annotations"][i].pop(key, None)
        else:
            obj["annotations"][i][key] = value
    if top == "split_list":
        obj["split"] = ["train"]
    elif top == "split_int":
        obj["split"] = {"train": 3}
    elif top == "no_annotations":
        del obj["annotations"]
    elif top == "empty":
        obj["annotations"] = []
    elif top == "ann_not_dict":
        obj["annotations"].append([1, 2])
    raw = pickle.dumps(obj, protocol=4)
    path = work / "anno.pkl"
    path.write_bytes(mutate(raw, byte_ops) if byte_ops else raw)
    outcome("pyskl", path)


def test_pickle_that_runs_code_is_refused(work):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = work / "evil.pkl"
    path.write_bytes(pickle.dumps({"annotations": [Evil()]}))
    with pytest.raises(DataFormatError, match="refusing to load builtins.print"):
        read(path, format="pyskl")


@SMALL
@given(shape=st.tuples(st.integers(0, 3), st.integers(1, 3), st.integers(0, 4),
                       st.sampled_from([24, 25]), st.integers(1, 2)),
       fill=st.sampled_from([0.0, 0.5, np.nan, np.inf]),
       labels=st.one_of(st.lists(st.integers(-2, 130), max_size=4), JSON_JUNK),
       byte_ops=st.lists(OPS, max_size=2))
def test_ntu_npy_generated(work, shape, fill, labels, byte_ops):
    data = np.full(shape, fill, dtype=np.float32)
    if shape[0] and shape[2]:
        data[0, :, 0] = 0.25  # one sample with some real values
    buf = io.BytesIO()
    np.save(buf, data)
    npy = work / "train_data_joint.npy"
    npy.write_bytes(mutate(buf.getvalue(), byte_ops) if byte_ops else buf.getvalue())
    names = [f"S001C001P001R001A{i + 1:03d}" for i in range(shape[0])]
    (work / "train_label.pkl").write_bytes(pickle.dumps((names, labels)))
    outcome("ntu-npy", npy, named=(work / "train_label.pkl",))


# ---- the project's own npz --------------------------------------------------------------------

@pytest.fixture(scope="module")
def npz_seed(work):
    path = work / "seed.npz"
    write_npz(demo_dataset(n_per_class=1, frames=8, actions=("walk", "wave"), seed=0), path)
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return _Seed((path.read_bytes(), arrays))


class _Seed(tuple):
    """A seed file's bytes and arrays, with a short repr for failure reports."""

    def __repr__(self) -> str:
        return f"<npz seed of {len(self[0])} bytes>"


NPZ_EDITS = st.sampled_from([
    ("data", "nan"), ("data", "inf"), ("data", "zeros"), ("data", "float64"),
    ("data", "drop_joint"), ("data", "4d"), ("lengths", "zero"), ("lengths", "too_long"),
    ("lengths", "negative"), ("lengths", "float"), ("label_action", "out_of_range"),
    ("label_action", "negative"), ("label_action", "missing_names"), ("meta", "not_json"),
    ("meta", "short"), ("layout", "unknown"), ("layout_json", "junk"), ("skipped", "junk"),
    ("data", "drop"), ("fps", "text"),
])


def _edit_npz(arrays: dict, key: str, how: str) -> dict:
    a = dict(arrays)
    if "data" not in a:
        return a
    x = a["data"].copy()
    if key == "data":
        if how in ("nan", "inf"):
            x[0, 0, 0, 0, 0] = np.nan if how == "nan" else np.inf
        elif how == "zeros":
            x[0] = 0.0
        elif how == "float64":
            x = x.astype(np.float64)
        elif how == "drop_joint":
            x = x[:, :, :, 1:]
        elif how == "4d":
            x = x[0]
        a["data"] = x
        if how == "drop":
            del a["data"]
        elif how == "missing_names" and "label_names_action" in a:
            del a["label_names_action"]
    elif key == "lengths":
        n, t = len(x), x.shape[2]
        a["lengths"] = {"zero": np.zeros(n, np.int64), "too_long": np.full(n, t + 1),
                        "negative": np.full(n, -1), "float": np.full(n, 2.5)}[how]
    elif key == "label_action":
        if how == "missing_names":
            a.pop("label_names_action", None)
        else:
            a["label_action"] = np.full(len(x), 99 if how == "out_of_range" else -1)
    elif key == "meta":
        a["meta"] = np.array("[{" if how == "not_json" else "[]")
    elif key == "layout":
        a["layout"] = np.array("nosuch")
        a.pop("layout_json", None)
    elif key == "layout_json":
        a["layout"] = np.array("nosuch")
        a["layout_json"] = np.array('{"joints": 3}')
    elif key == "skipped":
        a["skipped"] = np.array("[[1, 2, 3]]")
    elif key == "fps":
        a["fps"] = np.array("fast")
    return a


@FUZZ
@given(edits=st.lists(NPZ_EDITS, max_size=2), byte_ops=st.lists(OPS, max_size=3))
def test_npz_mutated(npz_seed, work, edits, byte_ops):
    raw, arrays = npz_seed
    for key, how in edits:
        arrays = _edit_npz(arrays, key, how)
    if edits:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        raw = buf.getvalue()
    path = work / "data.npz"
    path.write_bytes(mutate(raw, byte_ops) if byte_ops else raw)
    result = outcome("npz", path)
    if not edits and not byte_ops:
        assert result == "ok"
