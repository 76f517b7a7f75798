"""Transforms of one (C, T, V, M) sample: filter, frame count, centre, rotation, bones."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from ela.data import demo_dataset
from ela.data.transforms import (
    Compose,
    align_view,
    build_transform,
    centre,
    pad_or_crop,
    present,
    random_crop,
    random_rotation,
    resample,
    rotate,
    rotation_matrix,
    to_bone,
    valid_length,
    view_joints,
)
from ela.errors import ElaError, LayoutError
from ela.skeleton import get_layout
from ela.skeleton.filters import butter_lowpass

NTU = get_layout("ntu25")


def read_set(path, fmt):
    """A SkeletonSet through `ela.io.read`, skipping while the reader is not there."""
    io = pytest.importorskip("ela.io")
    read = getattr(io, "read", None)
    if read is None:
        pytest.skip("ela.io.read is not available yet")
    out = read(path, fmt)
    return out.collect() if hasattr(out, "collect") else out


def walker() -> np.ndarray:
    """One demo sample (3, 40, 25, 1), ntu25, metres."""
    return demo_dataset(1, 40, seed=3, actions=("walk",), emotions=("happy",)).samples[0].data


def jitter(x: np.ndarray) -> float:
    """Mean |second difference| over time of (C, T, V, M)."""
    return float(np.abs(np.diff(x, n=2, axis=1)).mean())


def test_lowpass_removes_high_frequencies_and_keeps_slow_motion():
    t = np.arange(120)
    slow = np.sin(2 * np.pi * t / 60)  # 0.033 cycles/frame, far below 0.1·Nyquist = 0.05
    fast = 0.3 * np.sin(2 * np.pi * t * 0.4)  # 0.4 cycles/frame, far above
    x = np.broadcast_to((slow + fast + 2.0)[None, :, None, None], (3, 120, 4, 1)).copy()
    y = butter_lowpass(x)
    assert y.shape == x.shape and y.dtype == np.float32
    inner = slice(10, 110)
    assert np.abs(y[0, inner, 0, 0] - (slow + 2.0)[inner]).max() < 0.02
    assert jitter(y) < 0.05 * jitter(x)
    # a constant passes unchanged (unit DC gain, zero phase)
    const = np.full((3, 50, 2, 1), 0.7, dtype=np.float32)
    np.testing.assert_allclose(butter_lowpass(const), const, atol=1e-5)


def test_lowpass_leaves_padding_and_absent_frames_zero():
    x = walker()
    padded = np.concatenate([x, np.zeros((3, 20, 25, 1), np.float32)], axis=1)
    padded[:, 15:18] = 0.0  # the person lost in three frames
    y = butter_lowpass(padded)
    assert np.all(y[:, 40:] == 0) and np.all(y[:, 15:18] == 0)
    # neighbours of the gap are not dragged towards zero by it
    ref = butter_lowpass(x)
    assert np.abs(y[:, [14, 18]] - ref[:, [14, 18]]).max() < 0.05
    assert present(y)[:40, 0].sum() == 37


@pytest.mark.parametrize("frames", [1, 2, 5, 27, 28])
def test_lowpass_short_sequences_do_not_crash(frames):
    x = walker()[:, :frames]
    y = butter_lowpass(x)
    assert y.shape == x.shape and np.isfinite(y).all()
    if frames == 1:
        np.testing.assert_array_equal(y, x)


def test_lowpass_rejects_bad_cutoff():
    with pytest.raises(ElaError, match="cutoff"):
        butter_lowpass(walker(), cutoff=1.5)


def test_lowpass_reduces_jitter_on_real_msr(shared_data):
    root = shared_data("msr_action3d")
    files = sorted(root.glob("a0[1-6]_s01_e01_skeleton3D.txt"))
    assert files, f"no MSR files in {root}"
    samples = [s for f in files for s in read_set(f, "msr").samples]
    before = np.array([jitter(s.data) for s in samples])
    after = np.array([jitter(butter_lowpass(s.data)) for s in samples])
    assert (after < before).all(), (before, after)
    assert after.mean() < 0.5 * before.mean()


def test_pad_or_crop():
    x = walker()
    assert pad_or_crop(x, 30).shape == (3, 30, 25, 1)
    np.testing.assert_array_equal(pad_or_crop(x, 30), x[:, :30])
    y = pad_or_crop(x, 50)
    np.testing.assert_array_equal(y[:, :40], x)
    assert np.all(y[:, 40:] == 0) and valid_length(y) == 40
    with pytest.raises(ElaError, match="frames"):
        pad_or_crop(x, 0)


def test_resample_interpolates_linearly_over_the_valid_span():
    ramp = np.arange(10, dtype=np.float32)[None, :, None, None] + 1.0
    x = np.concatenate([np.broadcast_to(ramp, (3, 10, 2, 1)),
                        np.zeros((3, 5, 2, 1), np.float32)], axis=1)  # 5 padding frames
    y = resample(x, 19)
    assert y.shape == (3, 19, 2, 1)
    np.testing.assert_allclose(y[0, :, 0, 0], np.linspace(1, 10, 19), atol=1e-5)
    np.testing.assert_allclose(resample(x, 4)[0, :, 0, 0], [1, 4, 7, 10], atol=1e-5)
    assert np.all(resample(np.zeros((3, 5, 2, 1)), 8) == 0)


def test_resample_never_blends_with_an_absent_person():
    x = walker()
    x[:, 10:14] = 0.0
    y = resample(x, 97)
    scale = np.linalg.norm(y[:, :, 3] - y[:, :, 0], axis=0)[:, 0]  # head–spine base
    present = scale > 0
    ref = np.linalg.norm(x[:, 0, 3] - x[:, 0, 0])
    assert present.sum() < 97 and np.all(np.abs(scale[present] - ref) < 0.05 * ref)


def test_random_crop_is_seeded_and_inside_the_valid_frames():
    x = walker()
    x = np.concatenate([x, np.zeros((3, 10, 25, 1), np.float32)], axis=1)
    a = random_crop(x, 16, np.random.default_rng(5))
    b = random_crop(x, 16, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 16, 25, 1) and valid_length(a) == 16
    starts = {int(np.flatnonzero(x[0, :, 0, 0] == c[0, 0, 0, 0])[0])
              for c in (random_crop(x, 16, np.random.default_rng(s)) for s in range(30))}
    assert len(starts) > 5 and max(starts) <= 40 - 16
    np.testing.assert_array_equal(random_crop(x, 16), x[:, 12:28])  # centred without rng
    assert valid_length(random_crop(x, 60)) == 40


def test_centre_first_frame_and_per_frame():
    x = walker()
    two = np.concatenate([x, x + np.array([1.0, 0, 0], np.float32)[:, None, None, None]],
                         axis=3)
    two[:, 5:, :, 1] = 0.0  # second person leaves
    y = centre(two, NTU)
    np.testing.assert_allclose(y[:, 0, NTU.centre, 0], 0, atol=1e-6)
    np.testing.assert_allclose(y[:, 0, NTU.centre, 1], [1, 0, 0], atol=1e-6)  # relative kept
    assert np.all(y[:, 5:, :, 1] == 0)
    z = centre(two, NTU, per_frame=True)
    np.testing.assert_allclose(z[:, :, NTU.centre, 0], 0, atol=1e-6)
    assert np.all(z[:, 5:, :, 1] == 0)
    assert np.all(centre(np.zeros((3, 4, 25, 2)), NTU) == 0)


def _upright(layout, rng) -> np.ndarray:
    """(3, 6, V, 1) points with the spine along +y and right → left shoulders along +x."""
    root, left, right = view_joints(layout)
    x = rng.normal(0, 0.2, (3, 6, layout.num_joints, 1))
    x[:, :, root, 0] = [[0.0], [0.0], [0.0]]
    x[:, :, layout.centre, 0] = [[0.0], [0.5], [0.0]]
    x[:, :, left, 0] = [[0.2], [0.45], [0.05]]
    x[:, :, right, 0] = [[-0.2], [0.5], [-0.05]]
    return x.astype(np.float32)


@pytest.mark.parametrize("name", ["ntu25", "kinect20", "bandai21", "gait16", "upper10"])
def test_align_view_undoes_any_rotation(name):
    layout = get_layout(name)
    rng = np.random.default_rng(0)
    x = _upright(layout, rng)
    r = rotation_matrix(0, 0.7) @ rotation_matrix(1, 2.0) @ rotation_matrix(2, -0.4)
    y = align_view(rotate(x, r), layout)
    root, left, right = view_joints(layout)
    spine = y[:, 0, layout.centre, 0] - y[:, 0, root, 0]
    across = y[:, 0, left, 0] - y[:, 0, right, 0]
    np.testing.assert_allclose(spine / np.linalg.norm(spine), [0, 1, 0], atol=1e-5)
    assert across[0] > 0 and abs(across[2]) < 1e-5
    # a rotation: every distance is kept
    np.testing.assert_allclose(np.linalg.norm(y[:, :, 1] - y[:, :, 2], axis=0),
                               np.linalg.norm(x[:, :, 1] - x[:, :, 2], axis=0), rtol=1e-4)


@pytest.mark.parametrize("name", ["openpose18", "coco17", "mediapipe33"])
def test_align_view_needs_a_spine(name):
    layout = get_layout(name)
    with pytest.raises(LayoutError, match=name):
        align_view(np.ones((3, 2, layout.num_joints, 1), np.float32), layout)


def test_align_view_on_real_bandai(shared_data):
    root = shared_data("bandai1")
    clip = sorted((root / "data").glob("dataset-1_walk_normal_*.bvh"))[0]
    data = read_set(clip, "bandai").samples[0].data
    rng = np.random.default_rng(1)
    turned = rotate(data, rotation_matrix(1, rng.uniform(0, 6.28)))
    layout = get_layout("bandai21")
    y = align_view(centre(turned, layout), layout)
    body = np.abs(y[:, 0, :, 0]).max(axis=1)
    head = y[1, :, layout.index("Head"), 0] - y[1, :, layout.index("Hips"), 0]
    assert (head > 0.3).all() and body[1] > body[2]


def test_to_bone_inverts_by_summing_along_the_tree():
    x = walker()
    b = to_bone(x, NTU)
    assert b.shape == x.shape
    root = NTU.parents.index(-1)
    assert np.all(b[:, :, root] == 0)
    np.testing.assert_allclose(b[:, :, 3], x[:, :, 3] - x[:, :, 2], atol=1e-6)
    rebuilt = np.zeros_like(x)
    for j in sorted(range(25), key=_tree_depth):
        p = NTU.parents[j]
        rebuilt[:, :, j] = (rebuilt[:, :, p] if p >= 0 else 0) + b[:, :, j]
    np.testing.assert_allclose(rebuilt, x - x[:, :, root:root + 1], atol=1e-5)


def _tree_depth(j: int) -> int:
    d = 0
    while NTU.parents[j] >= 0:
        j, d = NTU.parents[j], d + 1
    return d


def test_random_rotation_is_seeded_and_rigid():
    x = centre(walker(), NTU)
    a = random_rotation(x, 30, np.random.default_rng(2))
    np.testing.assert_array_equal(a, random_rotation(x, 30, np.random.default_rng(2)))
    assert not np.allclose(a, x)
    np.testing.assert_allclose(a[1], x[1], atol=1e-6)  # about the vertical: y unchanged
    np.testing.assert_allclose(np.linalg.norm(a[:, :, 5] - a[:, :, 4], axis=0),
                               np.linalg.norm(x[:, :, 5] - x[:, :, 4], axis=0), rtol=1e-5)
    tilted = random_rotation(x, 30, np.random.default_rng(2), tilt_degrees=10)
    assert not np.allclose(tilted[1], x[1], atol=1e-3)
    np.testing.assert_array_equal(random_rotation(x, 30, None), x)
    with pytest.raises(ElaError, match="axis"):
        random_rotation(x, 30, np.random.default_rng(0), axis="w")


def test_build_transform_pipeline():
    x = walker()
    pipe = build_transform(["lowpass", "centre", "align", "resample:32", "rotate:10"], NTU)
    assert [s.name for s in pipe.steps] == ["lowpass", "centre", "align", "resample", "rotate"]
    y = pipe(x, np.random.default_rng(0))
    assert y.shape == (3, 32, 25, 1)
    np.testing.assert_array_equal(y, pipe(x, np.random.default_rng(0)))
    same = Compose([lambda d, r: butter_lowpass(d), lambda d, r: centre(d, NTU),
                    lambda d, r: align_view(d, NTU), lambda d, r: resample(d, 32)])
    np.testing.assert_allclose(pipe(x, None), same(x, None), atol=1e-6)  # eval: no rotation
    assert len(build_transform("lowpass:8,0.2+centre:per_frame+bone", NTU)) == 3
    assert build_transform(None)(x).shape == x.shape
    pickle.loads(pickle.dumps(pipe))  # data-loader workers need this


def test_build_transform_errors_name_the_problem():
    with pytest.raises(ElaError, match="unknown transform 'blur'"):
        build_transform(["blur"], NTU)
    with pytest.raises(ElaError, match="frame count"):
        build_transform(["resample"], NTU)
    with pytest.raises(ElaError, match="needs the skeleton layout"):
        build_transform(["centre"])
    with pytest.raises(ElaError, match="no parameter 'speed'"):
        build_transform(["lowpass:speed=3"])
