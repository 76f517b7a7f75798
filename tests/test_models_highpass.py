"""The ``highpass`` detector backbone (`ela.models.highpass`): its residual against its
definition, its input channels, its checkpoint, and a detector built on it finding a jitter
that the same backbone on the joints misses."""

from __future__ import annotations

import pytest
import torch

from conftest import NOISE_FRAMES, noise_attack
from ela.errors import ElaError
from ela.models import create_model, list_models
from ela.models.highpass import HighPass
from ela.models.squeeze import gaussian_kernel
from ela.runs.detect import DetectorSettings, run_detect
from ela.training.checkpoint import load, save_checkpoint

T = NOISE_FRAMES
TINY = {"backbone_cfg": {"width": 0.25, "window": T, "dropout": 0.0}}


def test_highpass_is_a_detector():
    assert "highpass" in list_models("detector")


def test_the_residual_removes_a_steady_motion_and_keeps_a_spike():
    """A joint moving at constant speed is its own low-pass inside the clip (a symmetric
    kernel keeps a line), so its residual is 0 there; a one-frame spike of 1 cm leaves
    gain · (1 − k₀) cm at its frame, k₀ the kernel's centre weight; padding stays 0."""
    model = create_model("highpass", "kinect20", 2, sigma=1.0, gain=100.0, **TINY)
    t = torch.arange(T, dtype=torch.float32)
    x = torch.zeros(1, 3, T, 20, 1)
    x[0, 0] = 0.02 * t[:, None, None] + 0.5
    x[0, 1, 8, 3] = 0.01
    x[0, 2] = 1.0
    r = model.residual(x)
    inner = slice(4, T - 4)
    assert r[0, 0, inner].abs().max() < 1e-4
    k0 = float(gaussian_kernel(1.0)[3])
    assert r[0, 1, 8, 3, 0] == pytest.approx(100 * 0.01 * (1 - k0), rel=1e-4)
    x[:, :, T - 3:] = 0.0  # trailing padding
    assert (model.residual(x)[:, :, T - 3:] == 0).all()


@pytest.mark.parametrize("raw", [True, False])
def test_forward_backward_and_channels(raw):
    torch.manual_seed(0)
    model = create_model("highpass", "kinect20", 2, raw=raw, **TINY)
    assert model.backbone.in_channels == (6 if raw else 3)
    x = torch.randn(2, 3, T, 20, 1, requires_grad=True)
    logits, feats = model.forward_features(x)
    assert logits.shape == (2, 2) and feats.shape[0] == 2
    logits.square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_a_checkpoint_rebuilds_the_same_detector(tmp_path):
    torch.manual_seed(0)
    model = create_model("highpass", "kinect20", 2, sigma=0.5, **TINY).eval()
    save_checkpoint(model, tmp_path)
    again = load(tmp_path)
    assert isinstance(again, HighPass) and again.config == model.config
    x = torch.randn(3, 3, T, 20, 1)
    with torch.no_grad():
        assert torch.allclose(again(x), model(x))
    with pytest.raises(ElaError, match="gain must be > 0"):
        create_model("highpass", "kinect20", 2, gain=0.0, **TINY)


def test_a_highpass_detector_finds_a_jitter_the_same_backbone_on_joints_misses(tmp_path):
    """1 cm of white noise on every joint, 24 training pairs: HCN on the joints stays at
    chance, the same HCN on the residual learns it."""
    train = [f"jitter={noise_attack(tmp_path / 'train', 'cw', 0.01, 1)}"]
    test = [f"jitter={noise_attack(tmp_path / 'test', 'cw', 0.01, 3)}"]
    rows = {}
    for model, cfg in (("highpass", TINY), ("hcn", TINY["backbone_cfg"])):
        settings = DetectorSettings(model=model, cfg=cfg, epochs=20, bootstrap=50,
                                    device="cpu", restarts=1)
        rows[model] = run_detect(train, test, tmp_path / model, settings)["methods"]["jitter"]
    assert rows["highpass"]["learned"] and rows["highpass"]["auc"] > 0.9
    assert not rows["hcn"]["learned"] and rows["hcn"]["auc"] < 0.7
    assert isinstance(load(rows["highpass"]["detector"]), HighPass)
