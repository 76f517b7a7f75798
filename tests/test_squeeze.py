"""Feature squeezing (`ela.models.squeeze`, `ela detect --squeeze`): the temporal filter
against its definition, the detector as a checkpoint and a guard, and the rule that
chooses its width on training folders and sets its threshold on validation folders, on
attack folders whose changes are known (jitter the filter removes, a drift it keeps)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ela.attacks.guard import Guarded
from ela.cli import main
from ela.data.demo import demo_dataset
from ela.errors import ElaError
from ela.models import SkeletonModel, create_model, list_models, register_model
from ela.models.registry import unregister_model
from ela.models.squeeze import FeatureSqueezing, gaussian_kernel, squeezer_of, temporal_smoothing
from ela.runs.detect import DetectorSettings, guard_threshold
from ela.runs.squeeze import run_squeeze
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


def test_the_detector_scores_the_change_of_answer_and_reloads(probe_run, tmp_path):
    det = squeezer_of(load(probe_run), 1.0)
    assert PROBE not in list_models("detector") and "feature-squeezing" in list_models("detector")
    x = torch.from_numpy(smooth_clean(4, 0))
    smooth, jittery = det(x), det(x + 0.01 * torch.where(torch.arange(T) % 2 == 0, 1.0, -1.0)
                          [None, None, :, None, None])
    assert (smooth[:, 0] == 0).all() and (smooth[:, 1] < 0.2).all()
    assert (jittery[:, 1] > 1.0).all() and (jittery[:, 1] <= 2.0).all()
    save_checkpoint(det, tmp_path / "det")
    again = load(tmp_path / "det")
    assert isinstance(again, FeatureSqueezing) and again.sigma == 1.0
    assert torch.allclose(again(x), smooth)
    guarded = Guarded(load(probe_run), again, threshold=0.5)
    xg = x.clone().requires_grad_(True)
    guarded(xg)[:, -1].sum().backward()  # an adaptive attack differentiates through it
    assert xg.grad is not None and xg.grad.abs().sum() > 0
    with pytest.raises(ElaError, match="num_classes must be 2"):
        FeatureSqueezing(again.layout, num_classes=3, backbone=dict(again.backbone.config))
    with pytest.raises(ElaError, match="needs backbone"):
        create_model("feature-squeezing", "ntu25", 2)


def test_the_rule_chooses_on_training_folders_and_calibrates_on_validation(probe_run, tmp_path):
    train = [f"jitter={write_folder(tmp_path / 'train', 1, 0.01)}"]
    test = [f"jitter={write_folder(tmp_path / 'test', 2, 0.01)}",
            f"drift={write_folder(tmp_path / 'drift', 3, 0.0)}"]
    val = [write_folder(tmp_path / "val", 4, 0.0, name="v")]
    settings = DetectorSettings(bootstrap=100, device="cpu")
    r = run_squeeze(probe_run, train, test, val, tmp_path / "out", settings,
                    sigmas=(0.5, 1.0, 3.0))
    by_sigma = {row["sigma"]: row for row in r["choice"]}
    assert r["chosen"] == max(by_sigma, key=lambda s: by_sigma[s]["caught_train"])
    assert by_sigma[r["chosen"]]["caught_train"] == 1.0
    assert r["pooled"]["jitter"]["auc"] > 0.95 and r["pooled"]["jitter"]["caught_at_threshold"] == 1
    assert r["pooled"]["drift"]["caught_at_threshold"] <= 0.1  # no change: nothing to find
    folder = tmp_path / "out" / "detectors" / "squeeze"
    assert guard_threshold(folder) == pytest.approx(by_sigma[r["chosen"]]["threshold"])
    assert load(folder).sigma == r["chosen"]
    assert json.loads((tmp_path / "out" / "detect.json").read_text())["chosen"] == r["chosen"]
    with pytest.raises(ElaError, match="also in a --train folder"):
        run_squeeze(probe_run, train, test, [train[0].removeprefix("jitter=")], tmp_path / "x",
                    settings)
    with pytest.raises(ElaError, match="needs at least 20"):
        run_squeeze(probe_run, train, test, [write_folder(tmp_path / "few", 5, 0.0, n=10,
                                                          name="f")], tmp_path / "x", settings)


def test_cli_squeeze_prints_both_tables_and_needs_calibration(probe_run, tmp_path, capsys):
    train = write_folder(tmp_path / "train", 1, 0.01)
    test = write_folder(tmp_path / "test", 2, 0.01)
    val = write_folder(tmp_path / "val", 4, 0.0, name="v")
    args = ["detect", "--squeeze", str(probe_run), "--train", train, "--test", test,
            "--out", str(tmp_path / "out"), "--bootstrap", "50", "--device", "cpu"]
    assert main([*args, "--calibrate", val, "--sigmas", "0.5", "1"]) == 0
    out = capsys.readouterr().out
    assert "| 0.5" in out and "| jitter | 24 |" in out and "| all |" in out
    assert main(args) == 2
    assert "--squeeze needs --calibrate" in capsys.readouterr().err
