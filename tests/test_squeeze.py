"""Feature squeezing (`ela.models.squeeze`, `ela detect --squeeze`): the temporal filter and
the quantisation against their definitions, the detector (one squeezer or several) as a
checkpoint and a guard, and the rule that chooses its squeezers on training folders and
sets its threshold on validation folders, on attack folders whose changes are known
(jitter the filter removes, a drift it keeps)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import script
from ela.attacks.guard import Guarded
from ela.cli import main
from ela.data.demo import demo_dataset
from ela.errors import ElaError
from ela.models import SkeletonModel, create_model, list_models, register_model
from ela.models.registry import unregister_model
from ela.models.squeeze import (
    MEDIAN,
    QUANTISE,
    RIGID,
    SMOOTH,
    FeatureSqueezing,
    gaussian_kernel,
    quantisation,
    rigid_bones,
    squeezer,
    squeezer_name,
    squeezer_of,
    temporal_median,
    temporal_smoothing,
)
from ela.runs.detect import DetectorSettings, attacked_scores, guard_threshold
from ela.runs.squeeze import run_squeeze
from ela.skeleton.features import bone_lengths, bone_vectors, parents_first
from ela.skeleton.layouts import get_layout
from ela.training.checkpoint import load, save_checkpoint

T = 16

PROBE = "jitter-probe"


class JitterProbe(SkeletonModel):
    """Two classes: "smooth" (logit 0) against "jittery" (logit `gain` × the mean squared
    second difference along time), so smoothing a jittery sequence changes its answer."""

    def __init__(self, layout, num_classes: int = 2, in_channels: int = 3, gain: float = 2e3):
        super().__init__(layout, num_classes, in_channels)
        self.gain = torch.nn.Parameter(torch.tensor(float(gain)))

    def forward_features(self, x):
        jitter = (x[:, :, 2:] - 2 * x[:, :, 1:-1] + x[:, :, :-2]).pow(2).mean(dim=(1, 2, 3, 4))
        logits = torch.stack([torch.zeros_like(jitter), self.gain * jitter - 1.0], dim=1)
        return logits, logits


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory):
    register_model(PROBE)(JitterProbe)
    run = tmp_path_factory.mktemp("squeeze") / "run"
    save_checkpoint(create_model(PROBE, "ntu25", 2), run)
    yield run
    unregister_model(PROBE)


def smooth_clean(n: int, seed: int) -> np.ndarray:
    """(n, 3, T, 25, 2) demo sequences (some carry sensor-like jitter) filtered smooth."""
    data = demo_dataset(n_per_class=n // 2, frames=T, actions=("walk", "wave"), seed=seed)
    x = torch.from_numpy(np.stack([s.data for s in data.samples[:n]]).astype(np.float32))
    return temporal_smoothing(x, gaussian_kernel(2.0)).numpy()


def write_folder(folder: Path, seed: int, jitter: float, n: int = 24, name: str = "s") -> str:
    """An attack folder whose adversarial copies add `jitter` metres of frame-to-frame
    alternation (which a temporal filter removes) to smooth demo sequences."""
    folder.mkdir(parents=True)
    clean = smooth_clean(n, seed)
    sign = np.where(np.arange(T) % 2 == 0, 1.0, -1.0)[None, None, :, None, None]
    adv = (clean + jitter * sign).astype(np.float32)
    np.savez(folder / "adversarial.npz", clean=clean, adversarial=adv, lengths=np.full(n, T),
             labels=np.zeros(n, int), clean_pred=np.zeros(n, int), adv_pred=np.ones(n, int),
             success=np.ones(n, bool), indices=np.arange(n), layout=np.array("ntu25"),
             classes=np.array(["smooth", "jittery"]))
    (folder / "samples.csv").write_text(
        "index,name\n" + "".join(f"{i},{name}{seed}_{i}\n" for i in range(n)))
    (folder / "summary.json").write_text(json.dumps({"method": "jitter", "n": n}))
    return str(folder)


def test_the_filter_keeps_constants_and_lines_and_removes_alternation():
    k = gaussian_kernel(1.0)
    assert len(k) == 7 and float(k.sum()) == pytest.approx(1.0)
    assert torch.allclose(k, k.flip(0))
    t = torch.arange(T, dtype=torch.float32)
    x = torch.zeros(2, 3, T, 4, 1)
    x[0] = 0.7
    x[1] = 0.01 * t[None, :, None, None]
    y = temporal_smoothing(x, k)
    assert y.shape == x.shape
    assert torch.allclose(y[0], x[0])
    assert torch.allclose(y[1, :, 3:-3], x[1, :, 3:-3], atol=1e-6)  # a line, away from edges
    alternating = torch.where(t % 2 == 0, 1.0, -1.0)[None, None, :, None, None].expand(1, 3, T,
                                                                                      4, 1)
    nyquist = float((k * torch.where(torch.arange(7) % 2 == 0, 1.0, -1.0)).sum())
    assert abs(nyquist) < 0.02  # the filter's gain at the fastest alternation
    inner = temporal_smoothing(alternating, k)[..., 3:-3, :, :]
    assert torch.allclose(inner.abs(), torch.full_like(inner, abs(nyquist)))
    padded = torch.cat([x, torch.zeros(2, 3, 5, 4, 1)], dim=2)  # 5 frames of padding
    again = temporal_smoothing(padded, k)
    assert torch.allclose(again[:, :, :T], y, atol=1e-6) and (again[:, :, T:] == 0).all()
    with pytest.raises(ElaError, match="sigma must be > 0"):
        gaussian_kernel(0.0)


def test_the_median_removes_a_spike_keeps_a_step_and_passes_the_gradient_to_its_pick():
    t = torch.arange(T, dtype=torch.float32)
    x = torch.zeros(2, 3, T, 4, 1)
    x[0] = 0.3
    x[0, :, 7] = 1.3  # a one-frame spike
    x[1] = torch.where(t < 8, 0.1, 0.5)[None, :, None, None]  # a step
    y = temporal_median(x, 3)
    assert torch.allclose(y[0], torch.full_like(y[0], 0.3))
    assert torch.equal(y[1], x[1])
    two = x.clone()
    two[0, :, 8] = 1.3  # a two-frame burst needs a window of 5
    assert not torch.allclose(temporal_median(two, 3)[0], y[0])
    assert torch.allclose(temporal_median(two, 5)[0], y[0])
    padded = torch.cat([x, torch.zeros(2, 3, 5, 4, 1)], dim=2)
    again = temporal_median(padded, 5)
    assert torch.equal(again[:, :, :T], temporal_median(x, 5)) and (again[:, :, T:] == 0).all()
    leaf = torch.tensor([0.0, 3.0, 1.0, 2.0, 5.0]).reshape(1, 1, 5, 1, 1).requires_grad_(True)
    out = temporal_median(leaf, 3)
    assert out.flatten().tolist() == [0.0, 1.0, 2.0, 2.0, 5.0]
    out.sum().backward()  # each output's gradient goes to the frame it took
    assert leaf.grad.flatten().tolist() == [1.0, 0.0, 1.0, 2.0, 1.0]
    assert squeezer_name(squeezer(MEDIAN, 5)) == "median 5 frames"
    for bad in (1, 4, 2.5):
        with pytest.raises(ElaError, match="odd number of frames"):
            squeezer(MEDIAN, bad)


def test_quantisation_rounds_to_the_grid_and_passes_the_gradient():
    x = torch.tensor([0.0, 0.004, 0.006, -0.016, 0.031]).requires_grad_(True)
    y = quantisation(x, 0.01)
    assert torch.allclose(y, torch.tensor([0.0, 0.0, 0.01, -0.02, 0.03]))
    (y * torch.arange(5.0)).sum().backward()  # straight through: d y / d x = 1
    assert torch.equal(x.grad, torch.arange(5.0))
    with pytest.raises(ElaError, match="unknown squeezer 'blur'"):
        squeezer("blur", 1.0)
    with pytest.raises(ElaError, match="size > 0 m"):
        squeezer(QUANTISE, 0.0)


def test_the_rigid_squeezer_gives_bones_their_median_length_and_keeps_directions():
    layout = get_layout("ntu25")
    order = parents_first(layout)
    assert sorted(order) == list(range(25))
    assert all(order.index(p) < order.index(j) for j, p in enumerate(layout.parents) if p >= 0)
    demo = torch.from_numpy(smooth_clean(2, 0))
    clean = rigid_bones(torch.cat([demo, demo + 1.0], dim=4), layout, 1.0)  # two persons
    clean[1, :, :, :, 1] = 0  # the second sample's second person absent
    clean[:, :, T - 3:] = 0  # 3 frames of padding
    assert torch.allclose(rigid_bones(clean, layout, 1.0), clean, atol=1e-5)  # rigid: kept
    rng = torch.Generator().manual_seed(0)
    noisy = clean + 0.02 * torch.randn(clean.shape, generator=rng) * (clean != 0)
    y = rigid_bones(noisy.requires_grad_(True), layout, 1.0)
    assert (y[clean == 0] == 0).all()  # padding and the absent person stay zero
    frames = slice(0, T - 3)
    before, after = bone_lengths(noisy, layout)[:, frames], bone_lengths(y, layout)[:, frames]
    median = before.detach().median(dim=1).values
    assert torch.allclose(after[0], median[0].expand_as(after[0]), atol=1e-5)
    u, v = bone_vectors(noisy, layout)[:, :, frames], bone_vectors(y, layout)[:, :, frames]
    cos = (u * v).sum(dim=1) / (u.norm(dim=1) * v.norm(dim=1))
    assert torch.allclose(cos[0], torch.ones_like(cos[0]), atol=1e-5)  # directions kept
    half = bone_lengths(rigid_bones(noisy, layout, 0.5), layout)[:, frames]
    assert torch.allclose(half[0], (before[0] + median[0]) / 2, atol=1e-5)
    roots = [j for j, p in enumerate(layout.parents) if p < 0]
    assert torch.equal(y[:, :, :, roots], noisy[:, :, :, roots])
    y.sum().backward()  # differentiable: an adaptive attack gets a gradient
    assert noisy.grad is not None and torch.isfinite(noisy.grad).all()
    assert squeezer_name(squeezer(RIGID, 0.5)) == "rigid 50 %"
    with pytest.raises(ElaError, match=r"share \(0, 1\]"):
        squeezer(RIGID, 1.5)


def test_the_detector_scores_the_change_of_answer_and_reloads(probe_run, tmp_path):
    det = squeezer_of(load(probe_run), [squeezer(SMOOTH, 1.0)])
    assert PROBE not in list_models("detector") and "feature-squeezing" in list_models("detector")
    x = torch.from_numpy(smooth_clean(4, 0))
    smooth, jittery = det(x), det(x + 0.01 * torch.where(torch.arange(T) % 2 == 0, 1.0, -1.0)
                          [None, None, :, None, None])
    assert (smooth[:, 0] == 0).all() and (smooth[:, 1] < 0.2).all()
    assert (jittery[:, 1] > 1.0).all() and (jittery[:, 1] <= 2.0).all()
    save_checkpoint(det, tmp_path / "det")
    again = load(tmp_path / "det")
    assert isinstance(again, FeatureSqueezing) and again.squeezers == det.squeezers
    assert torch.allclose(again(x), smooth)
    both = squeezer_of(load(probe_run), [squeezer(SMOOTH, 1.0, scale=0.5),
                                         squeezer(QUANTISE, 0.05, scale=0.25)])
    _, each = both.forward_features(x)
    assert torch.allclose(each[:, 0], 2 * smooth[:, 1])  # the score over its scale
    assert torch.allclose(both(x)[:, 1], each.amax(dim=1))  # the largest counts
    guarded = Guarded(load(probe_run), again, threshold=0.5)
    xg = x.clone().requires_grad_(True)
    guarded(xg)[:, -1].sum().backward()  # an adaptive attack differentiates through it
    assert xg.grad is not None and xg.grad.abs().sum() > 0
    with pytest.raises(ElaError, match="num_classes must be 2"):
        FeatureSqueezing(again.layout, num_classes=3, backbone=dict(again.backbone.config))
    with pytest.raises(ElaError, match="needs backbone"):
        create_model("feature-squeezing", "ntu25", 2)
    older = create_model("feature-squeezing", "ntu25", 2, backbone=dict(again.backbone.config),
                         sigma=1.5)  # a detector saved before `squeezers`
    assert older.squeezers == [squeezer(SMOOTH, 1.5)]
    with pytest.raises(ElaError, match="not both"):
        FeatureSqueezing(again.layout, backbone=dict(again.backbone.config), sigma=1.0,
                         squeezers=[squeezer(SMOOTH, 1.0)])


def test_the_rule_chooses_on_training_folders_and_calibrates_on_validation(probe_run, tmp_path):
    train = [f"jitter={write_folder(tmp_path / 'train', 1, 0.01)}"]
    test = [f"jitter={write_folder(tmp_path / 'test', 2, 0.01)}",
            f"drift={write_folder(tmp_path / 'drift', 3, 0.0)}"]
    val = [write_folder(tmp_path / "val", 4, 0.0, name="v")]
    settings = DetectorSettings(bootstrap=100, device="cpu")
    r = run_squeeze(probe_run, train, test, val, tmp_path / "out", settings,
                    {"smooth": (0.5, 1.0, 3.0), "quantise": (0.02, 0.1), "rigid": (),
                     "median": ()})
    by_name = {row["name"]: row for row in r["choice"]}
    assert list(by_name)[:5] == ["smooth 0.5 frames", "smooth 1 frames", "smooth 3 frames",
                                 "quantise 2 cm", "quantise 10 cm"]
    joint = list(by_name)[5]  # the best of each kind together, each over its threshold
    best = [max((row for row in r["choice"][i:j]), key=lambda row: row["caught_train"])
            for i, j in ((0, 3), (3, 5))]
    assert joint == f"{best[0]['name']} + {best[1]['name']}"
    assert [s["scale"] for s in by_name[joint]["squeezers"]] == [b["threshold"] for b in best]
    assert r["chosen"] == max(by_name, key=lambda s: by_name[s]["caught_train"])
    assert by_name[r["chosen"]]["caught_train"] == 1.0
    assert r["pooled"]["jitter"]["auc"] > 0.95 and r["pooled"]["jitter"]["caught_at_threshold"] == 1
    assert r["pooled"]["drift"]["caught_at_threshold"] <= 0.1  # no change: nothing to find
    folder = tmp_path / "out" / "detectors" / "squeeze"
    assert guard_threshold(folder) == pytest.approx(by_name[r["chosen"]]["threshold"])
    assert load(folder).squeezers == by_name[r["chosen"]]["squeezers"]
    written = json.loads((tmp_path / "out" / "detect.json").read_text())
    assert written["chosen"] == r["chosen"]
    assert written["settings"]["detector"] == f"feature squeezing ({r['chosen']})"  # the card's
    with pytest.raises(ElaError, match="also in a --train folder"):
        run_squeeze(probe_run, train, test, [train[0].removeprefix("jitter=")], tmp_path / "x",
                    settings)
    with pytest.raises(ElaError, match="at least one candidate"):
        run_squeeze(probe_run, train, test, val, tmp_path / "x", settings,
                    {"smooth": (), "quantise": (), "rigid": (), "median": ()})
    with pytest.raises(ElaError, match="unknown squeezer kind"):
        run_squeeze(probe_run, train, test, val, tmp_path / "x", settings, {"blur": (1.0,)})
    three = run_squeeze(probe_run, train, test, val, tmp_path / "three", settings,
                        {"smooth": (1.0,), "quantise": (0.02,), "rigid": (1.0,),
                         "median": ()})
    assert [row["name"] for row in three["choice"]] == [
        "smooth 1 frames", "quantise 2 cm", "rigid 100 %", "smooth 1 frames + quantise 2 cm",
        "smooth 1 frames + rigid 100 %", "quantise 2 cm + rigid 100 %",
        "smooth 1 frames + quantise 2 cm + rigid 100 %"]  # every two or more of the best
    four = run_squeeze(probe_run, train, test, val, tmp_path / "four", settings,
                       {"smooth": (1.0,), "quantise": (), "rigid": (1.0,), "median": (3.0,)})
    assert [row["name"] for row in four["choice"]] == [
        "smooth 1 frames", "rigid 100 %", "median 3 frames", "smooth 1 frames + rigid 100 %",
        "smooth 1 frames + median 3 frames", "rigid 100 % + median 3 frames",
        "smooth 1 frames + rigid 100 % + median 3 frames"]  # the median last: ties keep
    # what the three older kinds chose
    with pytest.raises(ElaError, match="needs at least 20"):
        run_squeeze(probe_run, train, test, [write_folder(tmp_path / "few", 5, 0.0, n=10,
                                                          name="f")], tmp_path / "x", settings)


def test_cli_squeeze_prints_both_tables_and_needs_calibration(probe_run, tmp_path, capsys):
    train = write_folder(tmp_path / "train", 1, 0.01)
    test = write_folder(tmp_path / "test", 2, 0.01)
    val = write_folder(tmp_path / "val", 4, 0.0, name="v")
    args = ["detect", "--squeeze", str(probe_run), "--train", train, "--test", test,
            "--out", str(tmp_path / "out"), "--bootstrap", "50", "--device", "cpu"]
    assert main([*args, "--calibrate", val, "--sigmas", "0.5", "1", "--quanta",
                 "--rigids", "--medians"]) == 0
    out = capsys.readouterr().out
    assert "| smooth 0.5 frames" in out and "quantise" not in out and "rigid" not in out
    assert "median" not in out
    assert "| jitter | 24 |" in out and "| all |" in out
    assert main(args) == 2
    assert "--squeeze needs --calibrate" in capsys.readouterr().err


def test_boundary_margin_reads_the_gap_between_the_two_top_logits(probe_run, tmp_path,
                                                                  monkeypatch, capsys):
    margin = script("boundary_margin")
    model, x = load(probe_run), smooth_clean(4, 0)
    with torch.no_grad():
        logits = model(torch.from_numpy(x))  # two classes: the margin is |l1 - l0|
    expected = (logits[:, 1] - logits[:, 0]).abs().numpy()
    assert np.allclose(attacked_scores(margin.TopTwoMargin(model), x), expected, atol=1e-5)
    folder = write_folder(tmp_path / "jitter", 1, 0.05)  # 5 cm alternation: far past it
    monkeypatch.setattr("sys.argv", ["boundary_margin.py", str(probe_run), folder])
    margin.main()
    row = capsys.readouterr().out.splitlines()[-1].strip("| ").split(" | ")
    assert row[1:3] == ["jitter", "24"] and float(row[3]) > 10 and float(row[5]) < 1.0
    guard = tmp_path / "guard"  # smoothing removes the alternation: every sequence caught
    save_checkpoint(squeezer_of(model, [squeezer(SMOOTH, 1.0)]), guard)
    (guard / "threshold.json").write_text(json.dumps({"threshold": 0.5}))
    monkeypatch.setattr("sys.argv", ["boundary_margin.py", str(probe_run), folder,
                                     "--guard", str(guard)])
    margin.main()
    row = capsys.readouterr().out.splitlines()[-1].strip("| ").split(" | ")
    assert row[6] == "100.0 %" and row[7] == "0.00 %"  # the jitter keeps every bone's length
    assert float(row[8]) == pytest.approx(50, abs=0.6)  # 5 cm, in mm
