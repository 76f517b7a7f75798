"""Adversarial training (PGD / TRADES under an l∞ budget with a bone-length penalty, PGD with
ELA's dynamic distance as the penalty, and the bone-rotation attack) and validation on
held-out subjects."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ela.attacks.ela import ELA
from ela.cli import main
from ela.data.demo import demo_dataset
from ela.errors import ElaError
from ela.io import read, write_npz
from ela.models import create_model
from ela.skeleton.features import bone_lengths, bone_vectors, valid_mask, vector_angles
from ela.training.adversarial import (
    adversarial_objective,
    bone_change,
    dynamic_perturb,
    penalty,
    perturb,
    rotate_bones,
    rotation_perturb,
)
from ela.training.loop import TrainConfig


def _batch(n=4, t=12, pad=4):
    data = demo_dataset(n_per_class=2, frames=t, actions=("walk", "wave"), seed=0)
    x = torch.from_numpy(np.stack([s.data for s in data.samples[:n]])).float()
    lengths = torch.full((n,), t - pad)
    x[:, :, t - pad:] = 0  # padding after each sample's length
    return x, lengths, data.layout


def test_perturbation_stays_in_the_ball_and_off_padding():
    x, lengths, layout = _batch()
    torch.manual_seed(0)
    model = create_model("hcn", layout, 2, width=0.25).eval()
    y = torch.zeros(len(x), dtype=torch.long)
    adv = perturb(x, lengths, lambda a: F.cross_entropy(model(a), y, reduction="sum"),
                  eps=0.01, steps=3)
    assert (adv - x).abs().max() <= 0.01 + 1e-7
    assert (adv - x).abs().max() > 0.005  # it moved
    assert torch.equal(adv[:, :, -4:], x[:, :, -4:])  # padded frames never move
    assert model.training is False


@pytest.mark.parametrize("method", ["pgd", "dynamic"])
def test_the_penalty_keeps_the_change_small_in_its_own_measure(method):
    """A heavy penalty shows in the measure it prices: ΔB/B for pgd (sign steps can only
    pick directions), ELA's dynamic distance D for dynamic."""
    x, lengths, layout = _batch()
    model = create_model("hcn", layout, 2, width=0.25).eval()
    y = torch.zeros(len(x), dtype=torch.long)
    mask = valid_mask(x, lengths)
    distance = ELA(model).distance
    ref = distance.reference(x, lengths)
    measure = {"pgd": lambda a: bone_change(a, x, layout, mask),
               "dynamic": lambda a: distance(a, ref)}[method]
    attack = {"pgd": perturb, "dynamic": dynamic_perturb}[method]
    changes = []
    for weight in (0.0, 1000.0):
        cost = penalty(method, model, x, lengths, weight)
        torch.manual_seed(0)
        adv = attack(x, lengths,
                     lambda a, cost=cost: F.cross_entropy(model(a), y, reduction="sum")
                     - cost(a), 0.02, 5)
        changes.append(float(measure(adv).mean()))
    assert changes[1] < 0.8 * changes[0], changes


def test_dynamic_attack_moves_each_sample_its_rms_budget_from_the_clean_sequence():
    x, lengths, layout = _batch()
    model = create_model("hcn", layout, 2, width=0.25).eval()
    y = torch.zeros(len(x), dtype=torch.long)
    gain = lambda a: F.cross_entropy(model(a), y, reduction="sum")  # noqa: E731
    adv = dynamic_perturb(x, lengths, gain, rms=0.01, steps=1)
    valid = (adv - x)[:, :, :-4]
    rms = valid.square().mean(dim=(1, 2, 3, 4)).sqrt()
    torch.testing.assert_close(rms, torch.full_like(rms, 0.01))  # one step: exactly its size
    assert torch.equal(adv[:, :, -4:], x[:, :, -4:])  # padded frames never move
    three = dynamic_perturb(x, lengths, gain, rms=0.01, steps=3)
    assert float((three - x)[:, :, :-4].square().mean(dim=(1, 2, 3, 4)).sqrt().max()) <= 0.01
    torch.testing.assert_close(dynamic_perturb(x, lengths, gain, 0.01, 3), three)  # no noise


def test_rotating_bones_keeps_lengths_and_roots_and_turns_each_bone_by_its_angle():
    x, _, layout = _batch(pad=0)
    x = x.double()
    turns = torch.zeros_like(x)
    elbow = layout.bones[3][0]
    turns[:, 1, :, elbow] = 0.3  # 0.3 rad about the vertical axis, every frame
    moved = rotate_bones(x, layout, turns)
    torch.testing.assert_close(bone_lengths(moved, layout), bone_lengths(x, layout))
    roots = [j for j, p in enumerate(layout.parents) if p < 0]
    assert torch.equal(moved[:, :, :, roots], x[:, :, :, roots])
    turned = vector_angles(bone_vectors(moved, layout), bone_vectors(x, layout))  # (N,T,B,M)
    b = [c for c, _ in layout.bones].index(elbow)
    others = [i for i in range(len(layout.bones)) if i != b]
    assert float(turned[:, :, others].abs().max()) < 1e-5  # children move, do not turn
    assert 0 < float(turned[:, :, b].max()) <= 0.3 + 1e-6
    torch.testing.assert_close(rotate_bones(x, layout, torch.zeros_like(x)), x)


def test_rotation_attack_stays_within_its_angle_keeps_lengths_and_padding():
    x, lengths, layout = _batch()
    torch.manual_seed(0)
    model = create_model("hcn", layout, 2, width=0.25).eval()
    y = torch.zeros(len(x), dtype=torch.long)
    adv = rotation_perturb(x, lengths,
                           lambda a: F.cross_entropy(model(a), y, reduction="sum"), layout,
                           angle=10.0, steps=3)
    assert torch.equal(adv[:, :, -4:], x[:, :, -4:])
    valid = valid_mask(x, lengths)[:, :, None, :]
    change = (bone_lengths(adv, layout) - bone_lengths(x, layout)).abs()
    assert float(change[valid.expand_as(change)].max()) < 1e-5
    turned = vector_angles(bone_vectors(adv, layout), bone_vectors(x, layout))
    turned = turned[valid.expand_as(turned)]  # padding: zero vectors, no angle
    assert 0.01 < float(turned.max()) <= np.radians(10.0) * np.sqrt(3) + 1e-5
    with pytest.raises(ElaError, match="turns bones in 3D"):
        rotation_perturb(x[:, :2], lengths, lambda a: a.sum(), layout, 10.0, 1)


@pytest.mark.parametrize("method", ["pgd", "trades", "dynamic", "dynamic-trades", "rotation"])
def test_objectives_give_a_finite_loss_and_train_mode(method):
    x, lengths, layout = _batch()
    model = create_model("hcn", layout, 2, width=0.25)
    y = torch.tensor([0, 1, 0, 1])
    objective = adversarial_objective(method, 0.01, 2, 10.0, 6.0, F.cross_entropy)
    loss, logits = objective(model, x, y, lengths)
    assert torch.isfinite(loss) and logits.shape == (4, 2) and model.training
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_dynamic_trades_is_trades_loss_on_the_dynamic_attack():
    """dynamic-trades trains on CE(f(x), y) + β · KL(f(x) ‖ f(x')) with x' the batch that
    dynamic's inner attack (cross-entropy less D, from the clean start) makes; dynamic
    itself trains on f(x') alone."""
    from ela.training.adversarial import kl_to, training_attack

    x, lengths, layout = _batch()
    model = create_model("hcn", layout, 2, width=0.25, dropout=0.0)  # same logits each pass
    y = torch.tensor([0, 1, 0, 1])
    model.eval()
    x_adv = training_attack("dynamic", model, x, y, lengths, 0.02, 2, 1.0)
    model.train()
    with torch.no_grad():
        logits = model(x)
        want = (F.cross_entropy(logits, y)
                + 3.0 * kl_to(F.log_softmax(logits, dim=1), model(x_adv), "batchmean"))
        plain = F.cross_entropy(model(x_adv), y)
        assert not torch.allclose(want, plain)
        for method, expected, clean_logits in (("dynamic-trades", want, logits),
                                               ("dynamic", plain, None)):
            objective = adversarial_objective(method, 0.02, 2, 1.0, 3.0, F.cross_entropy)
            with torch.enable_grad():
                loss, out = objective(model, x, y, lengths)
            torch.testing.assert_close(loss, expected)
            if clean_logits is not None:
                torch.testing.assert_close(out, clean_logits)


def test_trades_gradient_stays_finite_for_a_confident_model():
    """The clean probabilities of TRADES carry gradient; once softmax underflows to 0 the
    probability-space KL's gradient is 0 · ∞ = NaN (it stopped a real MSR run at epoch 32).
    The log-space KL stays finite."""
    from ela.training.adversarial import kl_to

    clean = torch.tensor([[0.0, 300.0, -300.0]], requires_grad=True)
    adv = torch.tensor([[200.0, 0.0, -200.0]])
    F.kl_div(F.log_softmax(adv, dim=1), F.softmax(clean, dim=1), reduction="sum").backward()
    assert clean.grad.isnan().any()  # what the probability-space form does
    clean.grad = None
    kl_to(F.log_softmax(clean, dim=1), adv, "sum").backward()
    assert torch.isfinite(clean.grad).all()


def test_bad_adversarial_settings_and_inputs_are_clear_errors():
    with pytest.raises(ElaError, match="adversarial must be None or one of"):
        TrainConfig(adversarial="fgsm")
    with pytest.raises(ElaError, match="adv_eps, adv_angle and adv_steps must be > 0"):
        TrainConfig(adversarial="pgd", adv_eps=0)
    with pytest.raises(ElaError, match="adv_eps, adv_angle and adv_steps must be > 0"):
        TrainConfig(adversarial="rotation", adv_angle=0)
    objective = adversarial_objective("pgd", 0.01, 2, 1.0, 6.0, F.cross_entropy)
    with pytest.raises(ElaError, match="multimodal models are not supported"):
        objective(torch.nn.Identity(), {"audio": torch.zeros(2)}, torch.zeros(2), None)


def _train_hcn(tmp_path, data, *flags: str):
    """`ela train` of a small hcn on `data` (written to tmp_path/demo.npz), 16 frames, with
    `flags`; returns the data file and the run folder."""
    path = tmp_path / "demo.npz"
    write_npz(data, path)
    out = tmp_path / "run"
    assert main(["train", "--model", "hcn", "--data", str(path), "--label", "action",
                 "--out", str(out), "--frames", "16", "--cfg", "width=0.25", *flags]) == 0
    return path, out


def test_cli_adversarial_run_records_its_settings_and_validates_on_held_out_subjects(
        tmp_path):
    data = demo_dataset(n_per_class=4, frames=24, actions=("walk", "wave", "bow"), seed=3)
    for i, s in enumerate(data.samples):
        s.meta["subject"] = 1 + i % 4
    path, out = _train_hcn(tmp_path, data, "--epochs", "2", "--adversarial", "trades",
                           "--adv-eps", "0.005", "--adv-steps", "2",
                           "--split", "holdout:0.5,0.25,0.25", "--group", "subject")
    config = json.loads((out / "config.json").read_text())["train_config"]
    assert (config["adversarial"], config["adv_eps"], config["adv_steps"]) == ("trades",
                                                                              0.005, 2)
    split = json.loads((out / "split.json").read_text())
    subjects = np.array(read(path).meta("subject"))
    parts = {k: set(subjects[split[k]].tolist()) for k in ("train", "val", "test")}
    assert not parts["train"] & parts["val"] and not parts["train"] & parts["test"]


@pytest.mark.parametrize(("model", "select"), [("hcn", "select.json"),
                                               ("sgn", "select_sgn.json")])
def test_recommended_defence_is_the_one_the_rule_chose_and_trains_with_every_setting(
        tmp_path, model, select):
    from pathlib import Path

    from ela.training.adversarial import RECOMMENDED, recommended

    chosen = json.loads((Path(__file__).parents[1] / "docs" / "results" / "defence_msr"
                         / select).read_text())["chosen_config"]
    settings = recommended(model)
    assert settings is RECOMMENDED[model]
    assert {k: chosen[k] for k in settings} == settings
    data = demo_dataset(n_per_class=3, frames=16, actions=("walk", "wave"), seed=4)
    path = tmp_path / "demo.npz"
    write_npz(data, path)
    out = tmp_path / "rec"
    cfg = ["--cfg", "width=0.25" if model == "hcn" else "frames=16"]
    assert main(["train", "--model", model, "--data", str(path), "--label", "action",
                 "--out", str(out), "--frames", "16", "--epochs", "1", *cfg,
                 "--adversarial", "recommended", "--adv-steps", "1"]) == 0
    config = json.loads((out / "config.json").read_text())["train_config"]
    assert {k: config[k] for k in settings} == {**settings, "adv_steps": 1}


def test_a_model_without_its_own_choice_gets_hcns():
    from ela.training.adversarial import RECOMMENDED, recommended

    assert recommended("2s-agcn") == RECOMMENDED["hcn"]


def test_cli_trains_dynamic_and_the_script_measures_each_training_attack(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    data = demo_dataset(n_per_class=4, frames=16, actions=("walk", "wave"), seed=5)
    path, out = _train_hcn(tmp_path, data, "--epochs", "1", "--adversarial", "dynamic",
                           "--adv-eps", "0.01", "--adv-steps", "2", "--adv-bone-weight", "1")
    config = json.loads((out / "config.json").read_text())["train_config"]
    assert (config["adversarial"], config["adv_bone_weight"]) == ("dynamic", 1.0)
    script = Path(__file__).parents[1] / "scripts" / "training_attacks.py"
    printed = subprocess.run(
        [sys.executable, str(script), str(out), "--data", str(path), "--samples", "4",
         "pgd:eps=0.01", "dynamic:eps=0.01,bone_weight=0"],
        capture_output=True, text=True, check=True).stdout
    rows = [line for line in printed.splitlines() if line.startswith("| pgd")
            or line.startswith("| dynamic")]
    assert len(rows) == 2
    pgd_linf = float(rows[0].split("|")[5])
    assert pgd_linf == pytest.approx(1.0, abs=0.05)  # PGD ends on its l∞ ball (cm)
