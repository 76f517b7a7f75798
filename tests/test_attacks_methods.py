"""ELA, C&W, SMART, PGD, MI-FGSM and APGD on a tiny model trained here on separable synthetic
motions."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from ela.attacks import (
    APGD,
    ATTACKS,
    ELA,
    MIFGSM,
    PGD,
    SMART,
    AttackError,
    LogitsOnly,
    summarize,
)
from ela.attacks.apgd import checkpoints
from ela.attacks.ela import PAPER_D, dct_basis
from ela.errors import ElaError
from ela.models.base import SkeletonModel
from ela.models.registry import create_model, list_models
from ela.skeleton import get_layout
from ela.skeleton.features import bone_lengths

NTU = get_layout("ntu25")
MOVING = [("left_elbow", "left_wrist", "left_hand"), ("right_elbow", "right_wrist", "right_hand"),
          ("left_knee", "left_ankle", "left_foot"), ("right_knee", "right_ankle", "right_foot")]
T = 12


class TinyNet(SkeletonModel):
    """Temporal conv over all joints of each person, max over time and persons, linear head."""

    def __init__(self, layout, num_classes, in_channels=3, hidden=24):
        super().__init__(layout, num_classes, in_channels)
        self.conv = nn.Conv1d(in_channels * layout.num_joints, hidden, 3, padding=1)
        self.fc = nn.Linear(hidden, num_classes)

    def forward_features(self, x):
        n, c, t, v, m = x.shape
        h = x.permute(0, 4, 1, 3, 2).reshape(n * m, c * v, t)
        h = torch.relu(self.conv(h)).amax(dim=2).view(n, m, -1).amax(dim=1)
        return self.fc(h), h


class TinyEmotion(SkeletonModel):
    kind = "emotion"

    def __init__(self, layout, num_classes=4, in_channels=3):
        super().__init__(layout, num_classes, in_channels)
        self.body = nn.Linear(in_channels * layout.num_joints, 8)
        self.head = nn.Linear(8, num_classes)

    def forward_features(self, x):
        n, c, t, v, m = x.shape
        h = torch.tanh(self.body(x.permute(0, 2, 4, 1, 3).reshape(n, t * m, c * v))).mean(1)
        return self.head(h), h


def _pose() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    pos = torch.zeros(NTU.num_joints, 3)
    for j in sorted(range(NTU.num_joints), key=lambda j: NTU.depth[j]):
        if NTU.parents[j] >= 0:
            d = torch.randn(3, generator=gen)
            pos[j] = pos[NTU.parents[j]] + d / d.norm() * (0.1 + 0.2 * torch.rand(1, generator=gen))
    return pos


def make_data(per_class: int, seed: int, offset: float = 0.0):
    """(N, 3, T, 25, 2) motions: class k swings one limb; person 2 absent; every third
    sample padded (last 3 frames zero)."""
    gen = torch.Generator().manual_seed(seed)
    pose, time = _pose(), torch.arange(T).float()
    xs, ys = [], []
    for k, names in enumerate(MOVING):
        idx = [NTU.index(n) for n in names]
        for _ in range(per_class):
            seq = pose[None].repeat(T, 1, 1)
            phase = float(torch.rand(1, generator=gen)) * 2 * math.pi
            seq[:, idx, 1] += 0.15 * torch.sin(2 * math.pi * time / T + phase)[:, None]
            seq = seq + 0.005 * torch.randn(seq.shape, generator=gen)
            seq = seq + 0.05 * torch.randn(1, 1, 3, generator=gen) + offset
            full = torch.zeros(3, T, NTU.num_joints, 2)
            full[..., 0] = seq.permute(2, 0, 1)
            xs.append(full)
            ys.append(k)
    x, y = torch.stack(xs), torch.tensor(ys)
    lengths = torch.full((len(y),), T)
    lengths[::3] = T - 3
    for i in range(0, len(y), 3):
        x[i, :, T - 3:] = 0
    return x, y, lengths


@pytest.fixture(scope="module")
def setup():
    x, y, _ = make_data(12, seed=0)
    torch.manual_seed(0)
    model = TinyNet(NTU, 4)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(80):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    xt, yt, lt = make_data(3, seed=1)
    with torch.no_grad():
        keep = model(xt).argmax(1) == yt  # attack correctly classified samples
    assert keep.sum() >= 10
    return model, xt[keep], yt[keep], lt[keep]


FAST = {
    "ela": dict(steps=300, inner_steps=10, patience=5),
    "cw": dict(search_steps=5, steps=300),
    "smart": dict(steps=300),
    "pgd": dict(eps=0.03, steps=20),
    "mifgsm": dict(eps=0.03, steps=20),
    "apgd": dict(eps=0.03, steps=20),
}


def _check_result(model, r, x, lengths):
    with torch.no_grad():
        pred = model(r.adversarial).argmax(1)
    assert torch.equal(pred, r.adversarial_predictions)
    goal = pred == r.targets if r.targeted else pred != r.labels
    assert torch.equal(goal, r.success)
    padded = torch.arange(x.shape[2])[None, :] >= lengths[:, None]  # (N, T)
    assert torch.equal(r.adversarial.permute(0, 2, 1, 3, 4)[padded],
                       x.permute(0, 2, 1, 3, 4)[padded])
    assert (r.adversarial[..., 1] == 0).all()  # the absent person stays absent
    for v in r.metrics.values():
        assert v.shape == (x.shape[0],)


@pytest.fixture(scope="module")
def untargeted(setup):
    model, x, y, lengths = setup
    return {name: ATTACKS[name](model, **FAST[name])(x, y, lengths=lengths) for name in FAST}


@pytest.mark.parametrize("name", ["ela", "cw", "smart", "pgd", "mifgsm", "apgd"])
def test_untargeted_attacks_change_the_prediction(setup, untargeted, name):
    model, x, y, lengths = setup
    r = untargeted[name]
    assert r.method == name
    _check_result(model, r, x, lengths)
    assert r.success.float().mean() >= 0.9, (name, r.success)
    assert model.training is False and all(p.requires_grad for p in model.parameters())
    assert (r.evaluations >= r.iterations + 1).all()
    assert (r.gradients == r.iterations).all()


def test_cw_with_confidence_keeps_sequences_past_the_margin(setup, untargeted):
    """As in the public code, with κ > 0 a C&W sequence counts as successful (and is kept)
    only once the goal is met with the margin κ; at κ = 0 any misclassification does."""
    model, x, y, lengths = setup
    r = ATTACKS["cw"](model, conf=2.0, **FAST["cw"])(x, y, lengths=lengths)
    with torch.no_grad():
        logits = model(r.adversarial)
    gap = (logits.scatter(1, y[:, None], float("-inf")).amax(1)
           - logits.gather(1, y[:, None]).squeeze(1))
    assert r.success.float().mean() >= 0.9 and (gap[r.success] >= 2.0 - 1e-4).all()
    with torch.no_grad():
        plain = model(untargeted["cw"].adversarial)
    plain_gap = (plain.scatter(1, y[:, None], float("-inf")).amax(1)
                 - plain.gather(1, y[:, None]).squeeze(1))
    assert plain_gap[untargeted["cw"].success].median() < 1.0  # just past the boundary


def test_ela_beats_cw_on_bone_lengths_and_speeds(untargeted):
    ela, cw = summarize(untargeted["ela"]), summarize(untargeted["cw"])
    assert ela.success_rate >= 0.9
    assert ela.metrics["bone_length_change"] < cw.metrics["bone_length_change"]
    assert ela.metrics["joint_speed_change"] < cw.metrics["joint_speed_change"]
    assert ela.emotion_consistency is None


def test_rigid_ela_keeps_every_bone_at_its_clean_length(setup, untargeted):
    model, x, y, lengths = setup
    r = ELA(model, rigid=True, **FAST["ela"])(x, y, lengths=lengths)
    _check_result(model, r, x, lengths)
    assert r.success.float().mean() >= 0.9
    valid = (torch.arange(x.shape[2])[None, :] < lengths[:, None])[:, :, None]  # (N, T, 1)
    clean, adv = bone_lengths(x, NTU)[..., 0], bone_lengths(r.adversarial, NTU)[..., 0]
    assert torch.allclose(adv[valid.expand_as(adv)], clean[valid.expand_as(clean)], atol=1e-5)
    assert r.metrics["bone_length_change"].abs().max() < 1e-4
    assert untargeted["ela"].metrics["bone_length_change"].median() > 1e-3  # not rigid


def test_low_frequency_ela_changes_along_the_lowest_dct_frequencies_only(setup):
    model, x, y, lengths = setup
    r = ELA(model, frequencies=4, **FAST["ela"])(x, y, lengths=lengths)
    _check_result(model, r, x, lengths)
    assert r.success.float().mean() >= 0.9
    basis = dct_basis(T, 4)  # (T, 4), orthonormal columns
    assert torch.allclose(basis.T @ basis, torch.eye(4), atol=1e-5)
    full = lengths == T  # padded frames stay put, so only whole sequences are a sum of cosines
    delta = (r.adversarial - x)[full].permute(0, 1, 3, 4, 2)  # (n, C, V, M, T)
    assert delta.abs().max() > 1e-3
    residual = delta - delta @ basis @ basis.T
    assert residual.abs().max() < 1e-5 * max(1.0, float(delta.abs().max()))
    assert dct_basis(5, 9).shape == (5, 5)  # no more frequencies than frames
    with pytest.raises(AttackError, match="frequencies"):
        ELA(model, frequencies=0)


def test_targeted_ela_hits_the_target(setup):
    model, x, y, lengths = setup
    r = ELA(model, steps=300, inner_steps=10, patience=3)(
        x, y, target=lambda labels: (labels + 1) % 4, lengths=lengths)
    _check_result(model, r, x, lengths)
    assert torch.equal(r.targets, (y + 1) % 4)
    assert r.success.float().mean() >= 0.9
    assert torch.equal(r.adversarial_predictions[r.success], r.targets[r.success])


def test_target_modes_resolve(setup):
    model, x, y, lengths = setup
    ela = ELA(model, steps=1, inner_steps=1)
    with torch.no_grad():
        least = model(x).argmin(1)
    assert torch.equal(ela(x, y, target="least-likely").targets, least)
    assert (ela(x, y, target=2).targets == 2).all()
    assert torch.equal(ela(x, y, target=(y + 3) % 4).targets, (y + 3) % 4)
    already = ela(x, y, target=y)  # the target is the label: nothing to do
    assert already.success.all() and torch.equal(already.adversarial, x)
    assert (already.evaluations == 1).all() and "already adversarial" in already.notes[0]


@pytest.mark.parametrize("cls", [PGD, MIFGSM, SMART, APGD])
def test_targeted_baselines(setup, cls):
    model, x, y, lengths = setup
    cfg = FAST[cls.name]
    r = cls(model, **cfg)(x, y, target=(y + 1) % 4, lengths=lengths)
    _check_result(model, r, x, lengths)
    assert r.success.float().mean() >= 0.5
    assert torch.equal(r.adversarial_predictions[r.success], r.targets[r.success])


def test_mifgsm_is_the_pgd_loop_with_momentum(setup):
    """decay 0 is I-FGSM with the same steps; the momentum changes the path, never the
    ε ball; the paper's defaults are the options."""
    model, x, y, lengths = setup
    opts = MIFGSM.options()
    assert opts["decay"] == 1.0 and opts["steps"] == 10 and opts["early_stop"] is False
    assert "random_start" not in opts and "decay" not in PGD.options()
    plain = MIFGSM(model, eps=0.03, steps=8, decay=0.0)(x, y, lengths=lengths)
    ifgsm = PGD(model, eps=0.03, alpha=0.03 / 8, steps=8, early_stop=False)(
        x, y, lengths=lengths)
    assert torch.equal(plain.adversarial, ifgsm.adversarial)
    momentum = MIFGSM(model, eps=0.03, steps=8)(x, y, lengths=lengths)
    assert not torch.equal(momentum.adversarial, plain.adversarial)
    assert (momentum.adversarial - x).abs().amax() <= 0.03 + 1e-6
    assert (momentum.iterations == 8).all()  # no early stop: every sample takes all steps
    with pytest.raises(AttackError, match="decay"):
        MIFGSM(model, decay=-0.5)


def test_apgd_halves_its_step_at_the_papers_checkpoints(setup):
    """Checkpoints after 22 %, then intervals shrinking by 3 % to at least 6 % of the budget
    (Croce & Hein 2020); the ball, the options and the restarts' bookkeeping hold."""
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(1) == [] and all(0 < c < 20 for c in checkpoints(20))
    model, x, y, lengths = setup
    r = APGD(model, eps=0.01, steps=30, restarts=2)(x, y, lengths=lengths)
    _check_result(model, r, x, lengths)
    assert (r.adversarial - x).abs().amax() <= 0.01 + 1e-6
    assert (r.gradients == r.iterations).all() and (r.iterations <= 60).all()
    assert (r.iterations[~r.success] == 60).all()  # both starts ran to their end
    ce = APGD(model, eps=0.03, steps=20, loss="ce")(x, y, lengths=lengths)
    assert ce.success.float().mean() >= 0.9
    for bad in (dict(loss="dlr"), dict(rho=0.0), dict(restarts=0), dict(eps=-1.0)):
        with pytest.raises(AttackError):
            APGD(model, **bad)


class _Recorder(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model, self.sizes, self.layout = model, [], model.layout

    def forward(self, x):
        self.sizes.append(x.shape[0])
        return self.model(x)


def test_ela_early_stop_shrinks_the_active_batch(setup):
    model, x, y, lengths = setup
    rec = _Recorder(model)
    budget = 40 * 10
    r = ELA(rec, steps=400, inner_steps=10, patience=2, rel_tol=1e-2)(x, y,
                                                                        lengths=lengths)
    assert r.success.all()
    sizes = rec.sizes[1:-1]  # without the clean and the verification passes
    assert sizes[0] == len(x)
    assert all(a >= b for a, b in zip(sizes, sizes[1:], strict=False))
    assert sizes[-1] < len(x)
    assert sum(sizes) == int(r.evaluations.sum()) - len(x)
    assert (r.evaluations < budget + 2).any()
    assert int(r.evaluations.sum()) < len(x) * (budget + 2)


def test_a_growing_penalty_gets_a_heavy_distance_to_the_boundary_within_the_budget(setup):
    """λ grows by γ·C per outer iteration whatever D's scale: a heavy D holds samples on the
    clean side for a short budget, a γ that grows until the first success does not."""
    model, x, y, lengths = setup
    heavy = dict(spread_weight=1e3, steps=100, inner_steps=10, patience=5)
    fixed = ELA(model, gamma_growth=1.0, **heavy)(x, y, lengths=lengths)
    grown = ELA(model, gamma_growth=1.5, **heavy)(x, y, lengths=lengths)
    assert fixed.success.float().mean() <= 0.5 and bool(grown.success.all())
    held = ~fixed.success
    assert bool((grown.info["lambda"][held] > fixed.info["lambda"][held]).all())
    with pytest.raises(AttackError, match="gamma_growth"):
        ELA(model, gamma_growth=0.5)


def test_papers_d_cannot_see_a_steady_shift_and_the_default_d_can(setup):
    """`PAPER_D` reduces D to b + a + s: moving the whole body by a constant vector changes
    no bone, angle or speed, so it costs nothing; the default D prices it."""
    _, x, _, lengths = setup
    shifted = x + torch.tensor([0.05, 0.0, 0.02]).view(1, 3, 1, 1, 1)
    for options, free in ((PAPER_D, True), ({}, False)):
        distance = ELA(TinyNet(NTU, 4), **options).distance
        cost = distance(shifted, distance.reference(x, lengths))
        assert bool((cost.abs() < 1e-5).all()) is free, (options, cost)


def test_ela_with_emotion_model_on_another_layout(setup):
    model, x, y, lengths = setup
    torch.manual_seed(1)
    emo = TinyEmotion(get_layout("gait16")).train()
    r = ELA(model, emotion_model=emo, steps=200, inner_steps=10, patience=3)(
        x[:4], y[:4], lengths=lengths[:4])
    _check_result(model, r, x[:4], lengths[:4])
    assert r.success.float().mean() >= 0.75
    assert emo.training and all(p.requires_grad for p in emo.parameters())
    s = summarize(r, emotion_model=emo)
    assert 0.0 <= s.emotion_consistency <= 1.0
    assert torch.isfinite(r.info["distance"][r.success]).all()


def test_nan_sample_is_stopped_with_a_note(setup):
    model, x, y, lengths = setup
    bad = x[:5].clone()
    bad[2, 0, 0, 0, 0] = float("nan")
    r = ELA(model, **FAST["ela"])(bad, y[:5], lengths=lengths[:5])
    assert not r.success[2]
    assert any(note.startswith("sample 2:") for note in r.notes)
    others = torch.tensor([0, 1, 3, 4])
    assert r.success[others].all()
    assert torch.isfinite(r.adversarial[others]).all()


class _NaNAfter(nn.Module):
    """Gives NaN logits to samples whose marker coordinate is > 0.5, from the 3rd call on."""

    def __init__(self, model):
        super().__init__()
        self.model, self.layout, self.calls = model, model.layout, 0

    def forward(self, x):
        self.calls += 1
        out = self.model(x)
        if self.calls >= 3:
            hit = x[:, 0, 0, 0, 0] > 0.5
            out = torch.where(hit[:, None], torch.full_like(out, float("nan")), out)
        return out


def test_nan_loss_mid_attack_stops_only_that_sample(setup):
    model, x, y, lengths = setup
    xs = x[:4].clone()
    xs[:, 0, 0, 0, 0] = torch.tensor([0.9, 0.0, 0.0, 0.0])
    wrapped = _NaNAfter(model)
    r = ELA(wrapped, **FAST["ela"])(xs, y[:4], lengths=lengths[:4])
    assert any(n.startswith("sample 0: non-finite loss") for n in r.notes)
    assert r.iterations[0] < r.iterations[1:].min()
    assert r.success[1:].all()
    assert torch.isfinite(r.adversarial).all()


def test_coordinates_are_not_clamped_to_unit_box_unless_bounds_given(setup):
    model, _, _, _ = setup
    x, y, lengths = make_data(1, seed=3, offset=-1.5)  # all coordinates far outside [0, 1]
    r = PGD(model, eps=0.03, steps=10)(x, y, lengths=lengths)
    present = r.original != 0
    assert (r.adversarial[present] < 0).all()
    assert ((r.adversarial - r.original).abs().amax() <= 0.03 + 1e-6)
    lo, hi = r.original - 0.01, r.original + 0.01
    rb = PGD(model, eps=0.03, steps=10, bounds=(lo.amin(), hi.amax()))(x, y, lengths=lengths)
    assert rb.adversarial.amin() >= lo.amin() - 1e-6
    per_coord = PGD(model, eps=0.03, steps=5, bounds=(torch.tensor([-9.0, -9.0, -9.0]),
                                                        torch.tensor([9.0, 9.0, 9.0])))
    assert per_coord(x, y, lengths=lengths).adversarial.shape == x.shape


def test_bad_arguments_raise_clear_errors(setup):
    model, x, y, lengths = setup
    ela = ELA(model, steps=1, inner_steps=1)
    with pytest.raises(AttackError, match="joints"):
        ela(x[:, :, :, :20], y)
    with pytest.raises(AttackError, match="target mode"):
        ela(x, y, target="most-likely")
    with pytest.raises(AttackError, match="labels"):
        ela(x, y + 10)
    with pytest.raises(AttackError, match="targets"):
        ela(x, y, target=7)
    with pytest.raises(AttackError, match="lengths"):
        ela(x, y, lengths=lengths + 100)
    with pytest.raises(ElaError):
        ELA(model, gamma=0)
    with pytest.raises(AttackError, match="layout"):
        ELA(nn.Linear(3, 3))


def test_summary_counts_success_over_the_correctly_classified_samples(setup):
    model, x, y, lengths = setup
    wrong = y[:6].clone()
    wrong[:2] = (wrong[:2] + 1) % 4  # two samples the model now "misclassifies"
    r = PGD(model, **FAST["pgd"])(x[:6], wrong, lengths=lengths[:6])
    s = summarize(r)
    assert (s.num_samples, s.num_misclassified, s.num_attacked) == (6, 2, 4)
    assert bool(r.success[:2].all())  # returned unchanged, "adversarial" without a change
    fooled = int(r.success[2:].sum())
    assert s.num_successful == fooled and s.success_rate == pytest.approx(fooled / 4)
    assert r.success_rate == pytest.approx(s.success_rate)
    assert s.success_rate_all == pytest.approx((fooled + 2) / 6)
    d = s.to_dict()
    assert list(d)[:6] == ["num_samples", "num_misclassified", "num_attacked",
                           "num_successful", "success_rate", "success_rate_all"]
    assert d["bone_length_change"] == s.metrics["bone_length_change"]
    assert "2 of 6 already misclassified" in str(s)


def test_a_model_returning_a_tuple_is_a_clear_error_and_wraps(setup):
    model, x, y, lengths = setup

    class Both(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x):
            return self.inner.forward_features(x)  # (logits, features)

    with pytest.raises(AttackError, match=r"logits of shape \(N, classes\).*tuple of 2 "
                                          r"\(a tensor of shape \(3, 4\).*LogitsOnly"):
        PGD(Both(), NTU, **FAST["pgd"])(x[:3], y[:3])
    r = PGD(LogitsOnly(Both()), NTU, **FAST["pgd"])(x[:3], y[:3], lengths=lengths[:3])
    assert torch.equal(r.clean_predictions, y[:3])


def test_unlabelled_call_attacks_the_clean_prediction(setup):
    model, x, y, lengths = setup
    r = PGD(model, **FAST["pgd"])(x, lengths=lengths)
    assert torch.equal(r.labels, r.clean_predictions)
    table = r.per_sample()
    assert set(table) >= {"label", "success", "evaluations", "bone_length_change"}


def test_hcn_from_the_registry_can_be_attacked():
    if "hcn" not in list_models():
        pytest.skip("model 'hcn' is not registered yet")
    torch.manual_seed(0)
    x, y, lengths = make_data(1, seed=4)
    try:
        model = create_model("hcn", "ntu25", num_classes=4)
    except ElaError as err:
        pytest.skip(f"hcn cannot be built with defaults: {err}")
    r = ELA(model, steps=20, inner_steps=4)(x, y, lengths=lengths)
    _check_result_generic(model, r)
    assert torch.isfinite(r.adversarial).all()


def _check_result_generic(model, r):
    with torch.no_grad():
        model.eval()
        pred = model.predict_class(model(r.adversarial))
    assert torch.equal(pred, r.adversarial_predictions)
    assert torch.equal(pred != r.labels, r.success)


def test_every_registered_attack_has_a_fast_config():
    """Equality, not subset: a newly registered attack must get a config in FAST, so that
    the untargeted, targeted and CUDA tests run on it."""
    assert set(FAST) == set(ATTACKS)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_registered_attack_builds_from_options_with_steps(setup, name):
    """One set of option names: every attack takes `steps` and rejects unknown names with
    the list of the names it takes."""
    model, x, y, lengths = setup
    cls = ATTACKS[name]
    assert "steps" in cls.options()
    attack = cls.build(model, steps=20)
    r = attack(x[:3], y[:3], lengths=lengths[:3])
    assert int(r.gradients.max()) <= 20
    with pytest.raises(AttackError, match="takes: .*steps"):
        cls.build(model, no_such_option=1)


def test_attack_options_reject_gamma_for_baselines_and_map_iters_to_steps():
    from ela.runs.job import attack_options

    assert attack_options("smart", iters=20) == {"steps": 20}
    assert attack_options("ela", gamma=0.5, iters=300) == {"gamma": 0.5, "steps": 300}
    with pytest.raises(ElaError, match="--gamma applies to ela only"):
        attack_options("cw", gamma=1.0)
    with pytest.raises(ElaError, match="unknown option"):
        attack_options("pgd", outer_iters=3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attacks_run_on_cuda(setup, name):
    model, x, y, lengths = setup
    cuda = copy.deepcopy(model).cuda()
    r = ATTACKS[name].build(cuda, **FAST[name])(x.cuda(), y.cuda(), lengths=lengths.cuda())
    assert r.adversarial.device.type == "cuda" and r.success.device.type == "cuda"
    assert r.success.float().mean() >= 0.5
    for v in r.metrics.values():
        assert v.device.type == "cuda"


def test_ela_docstring_states_the_defaults_the_code_has():
    import re

    import ela.attacks.ela as module

    opts = ELA.options()
    doc = " ".join(module.__doc__.split())
    stated = {
        "gamma": re.search(r"γ = ([\d.e-]+),", doc)[1],
        "lr": re.search(r"Adam at lr ([\d.e-]+)", doc)[1],
        "steps": re.search(r"`steps` = (\d+)", doc)[1],
        "lr_decay": re.search(r"`lr_decay` = ([\d.]+)", doc)[1],
        "settle_iters": re.search(r"`settle_iters` = (\d+)", doc)[1],
        "patience": re.search(r"`patience` = (\d+)", doc)[1],
        "emotion_mode": re.search(r'`emotion_mode="(\w+)"`', doc)[1],
        "conf": re.search(r"margin `conf` ([\d.]+)", doc)[1],
        "beta2": re.search(r"β₂ ([\d.]+)", doc)[1],
        "turn_weight": re.search(r"`turn_weight` = ([\d.]+)", doc)[1],
        "shift_weight": re.search(r"`shift_weight` = ([\d.]+)", doc)[1],
        "velocity": re.search(r"`velocity` = (True|False)", doc)[1] == "True",
        **{key: re.search(rf"`{key}` = ([\d.]+)", doc)[1]
           for key in ("peak_weight", "spread_weight", "accel_weight", "turn_peak_weight",
                       "turn_peak_sharpness", "still_weight", "gamma_growth")},
    }
    for key, text in stated.items():
        value = opts[key]
        assert (text == value if isinstance(value, str | bool) else float(text) == value), key


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attacks_report_progress_inside_a_call(setup, name):
    """Steps of the budget, samples still active and fooled so far, while the call runs."""
    model, x, y, lengths = setup
    attack = ATTACKS[name].build(model, **FAST[name])
    seen = []
    attack.progress = seen.append
    r = attack(x, y, lengths=lengths)
    assert seen, "no progress report"
    steps = [p.step for p in seen]
    assert steps == sorted(steps) and all(p.step <= p.budget for p in seen)
    assert all(0 <= p.active <= p.samples == len(x) for p in seen)
    fooled = [p.fooled for p in seen]
    assert fooled == sorted(fooled) and fooled[-1] <= len(x)
    assert fooled[-1] >= int(r.success.sum()) - 1  # the last report may precede a last step
