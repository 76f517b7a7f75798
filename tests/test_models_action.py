"""Action recognizers (HCN, ST-GCN, 2s-AGCN streams, SGN) and their shared blocks."""

from __future__ import annotations

import pytest
import torch

from ela.errors import ElaError, LayoutError
from ela.models.blocks import TemporalConv, UnitGCN, graph_tensor
from ela.models.registry import create_model, list_models
from ela.models.two_stream import TwoStreamGCN
from ela.skeleton.layouts import get_layout

T = 16
TINY = {
    "hcn": {"width": 0.25, "window": T, "dropout": 0.0},
    "stgcn": {"channels": [8, 16, 16], "temporal_kernel": 3},
    "agcn": {"channels": [8, 16, 16], "temporal_kernel": 3},
    "agcn-bone": {"channels": [8, 16, 16], "temporal_kernel": 3},
    "2s-agcn": {"channels": [8, 16, 16], "temporal_kernel": 3},
    "sgn": {"frames": T, "embed_dim": 8},
}
FEATURE_DIM = {"hcn": 128, "stgcn": 16, "agcn": 16, "agcn-bone": 16, "2s-agcn": 32, "sgn": 64}
MODELS = list(TINY)
LAYOUTS = ["ntu25", "kinect20", "bandai21", "upper10"]


def tiny(name: str, layout: str = "kinect20", num_classes: int = 5):
    torch.manual_seed(0)
    return create_model(name, layout, num_classes, **TINY[name])


def batch(layout: str = "kinect20", n: int = 2, m: int = 2, t: int = T, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, t, get_layout(layout).num_joints, m, generator=g)


def test_every_registered_action_model_has_a_tiny_config():
    """Equality, not subset: a newly registered action model must get a tiny config here,
    so that every test of this file runs on it."""
    assert set(MODELS) == set(list_models("action"))


def test_every_registered_model_is_of_a_kind_with_a_table():
    """The action table is here, the emotion, multimodal and detector ones in their test
    files; each must equal its kind's models, and together the kinds must hold every
    registered name."""
    kinds = [set(list_models(kind)) for kind in ("action", "emotion", "multimodal", "detector")]
    assert set().union(*kinds) == set(list_models())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", MODELS)
def test_forward_backward(name, layout):
    model = tiny(name, layout)
    x = batch(layout)
    x[1, :, T - 4 :] = 0.0  # padded frames
    x[1, ..., 1] = 0.0  # absent second person
    x.requires_grad_(True)
    logits, feat = model.forward_features(x)
    assert logits.shape == (2, 5)
    assert feat.shape == (2, FEATURE_DIM[name]) == (2, model.feature_dim)
    (logits.square().sum() + feat.sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", MODELS)
def test_logits_depend_on_input_and_single_person(name):
    model = tiny(name).eval()
    x = batch()
    with torch.no_grad():
        a = model(x)
        b = model(x + 0.05 * torch.randn_like(x))
        one = model(x[..., :1])
    assert not torch.allclose(a, b)
    assert one.shape == (2, 5) and torch.isfinite(one).all()


@pytest.mark.parametrize("name", MODELS)
def test_rebuild_from_config(name):
    model = tiny(name, "bandai21").eval()
    clone = create_model(**model.config).eval()
    clone.load_state_dict(model.state_dict())
    x = batch("bandai21")
    with torch.no_grad():
        torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", MODELS)
def test_bad_input_raises(name):
    model = tiny(name)
    with pytest.raises(LayoutError, match="joints"):
        model(batch("ntu25"))
    with pytest.raises(ElaError, match="channels"):
        model(batch()[:, :2])
    with pytest.raises(ElaError, match=r"\(N, C, T, V, M\)"):
        model(batch()[..., 0])


def test_hcn_person_max_is_order_invariant():
    model = tiny("hcn").eval()
    x = batch()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x.flip(-1)))


@pytest.mark.parametrize("t", [8, 11, 40])
def test_hcn_accepts_other_lengths(t):
    model = tiny("hcn").eval()
    with torch.no_grad():
        out = model(batch(t=t))
    assert out.shape == (2, 5) and torch.isfinite(out).all()


def test_two_stream_is_sum_of_streams():
    two = tiny("2s-agcn").eval()
    joint = create_model("agcn", "kinect20", 5, **TINY["agcn"]).eval()
    bone = create_model("agcn-bone", "kinect20", 5, **TINY["agcn"]).eval()
    joint.load_state_dict(two.joint_stream.state_dict())
    bone.load_state_dict(two.bone_stream.state_dict())
    x = batch()
    with torch.no_grad():
        logits, feat = two.forward_features(x)
        lj, fj = joint.forward_features(x)
        lb, fb = bone.forward_features(x)
        torch.testing.assert_close(logits, lj + lb)
        torch.testing.assert_close(feat, torch.cat([fj, fb], 1))
        assert not torch.allclose(lj, lb)
        again = TwoStreamGCN.from_streams(joint, bone).eval()
        torch.testing.assert_close(again(x), logits)


def test_from_streams_rejects_mismatch():
    joint = create_model("agcn", "kinect20", 5, **TINY["agcn"])
    bone = create_model("agcn-bone", "kinect20", 5, channels=[8, 8])
    with pytest.raises(ElaError, match="differ"):
        TwoStreamGCN.from_streams(joint, bone)


@pytest.mark.parametrize("layout", ["ntu25", "kinect20"])
def test_bone_stream_is_joint_network_on_bones(layout):
    bone = tiny("agcn-bone", layout).eval()
    joint = create_model("agcn", layout, 5, **TINY["agcn"]).eval()
    joint.load_state_dict(bone.state_dict())
    lay = get_layout(layout)
    x = batch(layout)
    bones = torch.zeros_like(x)
    for j, p in enumerate(lay.parents):
        if p >= 0:
            bones[:, :, :, j] = x[:, :, :, j] - x[:, :, :, p]
    with torch.no_grad():
        torch.testing.assert_close(bone(x), joint(bones))


def test_sgn_segment_length_and_absent_person():
    model = tiny("sgn").eval()
    with pytest.raises(ElaError, match="frames=16"):
        model(batch(t=T + 4))
    x = batch(m=1)
    padded = torch.cat([x, torch.zeros_like(x)], dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(model(padded), model(x))


def test_unit_gcn_messages_follow_the_graph():
    lay = get_layout("kinect20")
    A = graph_tensor(lay)
    gcn = UnitGCN(3, 4, A, edge_importance=True).eval()
    x = torch.randn(1, 3, 5, lay.num_joints)
    j = 7
    y = x.clone()
    y[:, :, :, j] += 1.0
    with torch.no_grad():
        changed = (gcn(y) - gcn(x)).abs().sum(dim=(0, 1, 2)) > 1e-6
    neighbours = A[:, j, :].sum(0) > 0  # joints that receive a message from j
    assert torch.equal(changed, neighbours)
    adaptive = UnitGCN(3, 4, A, adaptive=True).eval()
    with torch.no_grad():
        changed = (adaptive(y) - adaptive(x)).abs().sum(dim=(0, 1, 2)) > 1e-6
    assert changed.all()  # the data-dependent graph C_k connects every pair of joints


def test_temporal_conv_stride_and_kernel():
    tc = TemporalConv(4, 6, kernel=5, stride=2)
    assert tc(torch.randn(2, 4, 11, 3)).shape == (2, 6, 6, 3)
    with pytest.raises(ElaError, match="odd"):
        TemporalConv(4, 6, kernel=4)


@pytest.mark.parametrize("name", ["hcn", "sgn", "stgcn", "agcn"])
def test_tiny_model_overfits_random_labels(name):
    torch.manual_seed(0)
    model = tiny(name, num_classes=4)
    x = batch(n=8, m=1, seed=3)
    y = torch.randint(0, 4, (8,), generator=torch.Generator().manual_seed(4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    model.eval()
    with torch.no_grad():
        assert (model(x).argmax(1) == y).float().mean() >= 0.75


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", MODELS)
def test_runs_on_cuda(name):
    model = tiny(name).cuda()
    x = batch().cuda().requires_grad_(True)
    model(x).sum().backward()
    assert x.grad.device.type == "cuda" and torch.isfinite(x.grad).all()
