"""Emotion recognizers: ProxEmo, SMACN, S-STGCN (joint, bone, two-stream), LSTM, LSTM+att, CNN."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ela.errors import ElaError, LayoutError
from ela.models.proxemo import image_embedding
from ela.models.registry import create_model, list_models
from ela.models.sstgcn import JointSelfAttention, SelfAttentionGraphConv
from ela.skeleton.layouts import get_layout

TINY_SST = {"channels": [8, 8, 16], "temporal_kernel": 3, "heads": 2}
# name -> (tiny config, feature dimension under it)
TINY = {
    "proxemo": ({"image_size": 160, "view_groups": 2, "width": [4, 4, 4]}, 8),
    "smacn": ({"stem": 8, "units": [8, 8, 16, 16], "att_dim": 8, "heads": 2}, 32),
    "sstgcn": (TINY_SST, 16),
    "sstgcn-bone": (TINY_SST, 16),
    "2s-sstgcn": (TINY_SST, 32),
    "lstm": ({"hidden": 16, "layers": 2}, 16),
    "lstm-att": ({"hidden": 16, "att_dim": 8}, 16),
    "cnn": ({"channels": [8, 8, 16, 16]}, 16),
}
LAYOUTS = ("gait16", "upper10", "ntu25", "bandai21")
N, T, E = 2, 16, 4


def build(name: str, layout: str = "upper10", num_classes: int = E, **extra):
    torch.manual_seed(0)
    return create_model(name, layout, num_classes, **{**TINY[name][0], **extra})


def batch(layout: str = "upper10", n: int = N, t: int = T, m: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, t, get_layout(layout).num_joints, m, generator=g)


def test_every_registered_emotion_model_has_a_tiny_config():
    """Equality, not subset: a newly registered emotion model must get a tiny config here."""
    assert set(TINY) == set(list_models("emotion"))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", sorted(TINY))
def test_shapes_for_every_layout(name, layout):
    model = build(name, layout)
    assert model.kind == "emotion"
    logits, feats = model.forward_features(batch(layout))
    assert logits.shape == (N, E)
    assert feats.shape == (N, TINY[name][1])
    assert torch.isfinite(logits).all() and torch.isfinite(feats).all()
    assert model.predict_class(logits).shape == (N,)


@pytest.mark.parametrize("name", sorted(TINY))
def test_gradient_reaches_input(name):
    model = build(name, "gait16")
    x = batch("gait16").requires_grad_(True)
    logits, feats = model.forward_features(x)
    (F.cross_entropy(logits, torch.tensor([0, 3])) + feats.square().mean()).backward()
    grad = x.grad[..., 0]
    assert torch.isfinite(x.grad).all()
    assert grad.abs().sum() > 0
    assert x.grad[..., 1].abs().sum() == 0  # emotion models read the first person only
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", sorted(TINY))
def test_logits_depend_on_input(name):
    model = build(name, "bandai21").eval()
    x = batch("bandai21")
    with torch.no_grad():
        a = model(x)
        b = model(x + 0.3 * batch("bandai21", seed=7))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("name", sorted(TINY))
def test_rebuild_from_config_gives_identical_outputs(name):
    model = build(name, "ntu25").eval()
    with torch.no_grad():  # change BN statistics so that the copy must carry buffers too
        model.train()(batch("ntu25", n=4, seed=3))
    model.eval()
    again = create_model(**model.config)
    again.load_state_dict(model.state_dict())
    again.eval()
    x = batch("ntu25")
    with torch.no_grad():
        za, fa = model.forward_features(x)
        zb, fb = again.forward_features(x)
    assert torch.equal(za, zb) and torch.equal(fa, fb)


@pytest.mark.parametrize("name", sorted(TINY))
def test_wrong_joint_count_is_refused(name):
    model = build(name, "upper10")
    with pytest.raises(LayoutError, match="joints"):
        model(batch("gait16"))


# --- S-STGCN ----------------------------------------------------------------------------------


def test_sstgcn_gate_is_a_parameter_initialised_to_one_and_learns():
    model = build("sstgcn", "upper10")
    layers = [m for m in model.modules() if isinstance(m, SelfAttentionGraphConv)]
    assert len(layers) == 3
    params = {id(p) for p in model.parameters()}
    for layer in layers:
        assert isinstance(layer.gate, torch.nn.Parameter) and layer.gate.requires_grad
        assert layer.gate.item() == 1.0 and id(layer.gate) in params
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    F.cross_entropy(model(batch()), torch.tensor([1, 2])).backward()
    opt.step()
    assert any(layer.gate.item() != 1.0 for layer in layers)


def test_joint_self_attention_matches_the_paper_formula():
    torch.manual_seed(0)
    att = JointSelfAttention(6, 8, heads=2).eval()
    x = torch.randn(2, 6, 5, 4)  # (B, C_in, T, V)
    a = x.permute(0, 2, 3, 1)
    q, k, v = (f(a).unflatten(-1, (2, 4)) for f in (att.query, att.key, att.value))
    alpha = (torch.einsum("btihd,btjhd->bthij", q, k) / 2.0).softmax(-1)  # sqrt(d_k) = 2
    s = torch.einsum("bthij,btjhd->btihd", alpha, v).flatten(-2)
    expect = att.out(s) + att.res(a)  # C_in != C_out: residual through W_R
    assert isinstance(att.res, torch.nn.Linear)
    assert torch.allclose(att(x), expect.permute(0, 3, 1, 2), atol=1e-6)


def test_sstgcn_paper_depth_and_strides():
    model = create_model("sstgcn", "upper10", 4)
    widths = [b.tcn.conv.out_channels for b in model.backbone.blocks]
    strides = [b.tcn.conv.stride[0] for b in model.backbone.blocks]
    assert widths == [32, 32, 32, 32, 64, 64, 64, 128, 128, 128]
    assert strides == [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert model.backbone.blocks[0].residual is None
    assert model.features(batch(n=1, t=8)).shape == (1, 128)


def test_bone_stream_is_joint_minus_parent():
    layout = get_layout("bandai21")
    model = build("sstgcn-bone", "bandai21").eval()
    x = batch("bandai21")[..., :1]
    bones = torch.zeros_like(x)
    for j, p in enumerate(layout.parents):
        if p >= 0:
            bones[..., j, :] = x[..., j, :] - x[..., p, :]
    joint = build("sstgcn", "bandai21").eval()
    joint.load_state_dict(model.state_dict())  # same weights, fed the bones by hand
    with torch.no_grad():
        assert torch.allclose(model(batch("bandai21")), joint(bones), atol=1e-6)


def test_two_stream_sum_fusion_is_log_of_summed_softmax():
    model = build("2s-sstgcn", "upper10", fusion="sum").eval()
    x = batch()
    with torch.no_grad():
        logits, feats = model.forward_features(x)
        zj, zb, f2 = model.stream_logits(x)
        fj = model.joint_stream.features(x)
    assert torch.allclose(logits.exp(), zj.softmax(1) + zb.softmax(1), atol=1e-6)
    assert torch.allclose(logits.exp().sum(1), torch.full((N,), 2.0))
    assert torch.equal(feats, f2) and torch.allclose(feats[:, :16], fj)
    assert torch.equal(model.predict_class(logits), (zj.softmax(1) + zb.softmax(1)).argmax(1))


def test_two_stream_fc_fusion():
    model = build("2s-sstgcn", "upper10", fusion="fc").eval()
    x = batch()
    with torch.no_grad():
        logits = model(x)
        zj, zb, _ = model.stream_logits(x)
    assert torch.allclose(logits, model.fuse(torch.cat([zj, zb], 1)))
    with pytest.raises(ElaError, match="fusion"):
        build("2s-sstgcn", fusion="max")


# --- ProxEmo ----------------------------------------------------------------------------------


def test_proxemo_default_size_matches_paper():
    model = create_model("proxemo", "gait16", 4)
    count = sum(p.numel() for p in model.parameters())
    assert count == 334_849  # the paper's "~335 k"
    assert model.head == "map" and model.image_size == 244


def test_proxemo_map_head_cells_and_emotion_logits():
    model = build("proxemo", "gait16", image_size=244, view_groups=4, width=[2, 2, 2]).eval()
    assert model.head == "map"
    x = batch("gait16", m=1)
    with torch.no_grad():
        cells = model.view_logits(x)
        logits = model(x)
    assert cells.shape == (N, 16)
    assert torch.allclose(logits, torch.logsumexp(cells.view(N, 4, 4), dim=2))
    with torch.no_grad():  # cells are row e (emotion), column g (view) of the final 4×4 map
        fmap = model.final(model.stage3(model.stage2(model.stage1(model.embed(x)))))
    assert torch.allclose(cells, fmap.flatten(1))


def test_proxemo_image_embedding_is_bilinear_resize_of_valid_frames():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 20, 7, generator=g)

    def reference(seq, size):
        r = F.interpolate(seq, (size, size), mode="bilinear", align_corners=False)
        lo, hi = r.amin((2, 3), keepdim=True), r.amax((2, 3), keepdim=True)
        return (r - lo) / (hi - lo + 1e-6)

    assert torch.allclose(image_embedding(x, 33), reference(x, 33), atol=1e-5)
    assert torch.allclose(image_embedding(x, 9), reference(x, 9), atol=1e-5)
    padded = torch.cat([x[:, :, :12], torch.zeros(2, 3, 8, 7)], dim=2)
    img = image_embedding(padded, 30, torch.tensor([12, 12]))
    assert torch.allclose(img, reference(x[:, :, :12], 30), atol=1e-5)
    assert img.min() >= 0 and img.max() <= 1


def test_proxemo_ignores_padding_frames():
    model = build("proxemo", "gait16").eval()
    x = batch("gait16", t=12, m=1)
    padded = torch.cat([x, torch.zeros(N, 3, 9, 16, 1)], dim=2)
    with torch.no_grad():
        assert torch.allclose(model(x), model(padded), atol=1e-5)


def test_proxemo_refuses_images_too_small():
    with pytest.raises(ElaError, match="image_size"):
        build("proxemo", image_size=32)


# --- recurrent and convolutional baselines ----------------------------------------------------


def test_lstm_paper_parameter_count():
    model = create_model("lstm", "upper10", 4)
    assert sum(p.numel() for p in model.parameters()) == 3_217_412  # paper: 3217.4 K


def test_smacn_default_size_near_paper():
    model = create_model("smacn", "upper10", 4)
    assert abs(sum(p.numel() for p in model.parameters()) - 1_143_800) < 5_000
    small = build("smacn").eval()
    maps = small.attention_maps(batch())
    assert maps.shape[:2] == (N, 2)
    assert torch.allclose(maps.sum(dim=(2, 3)), torch.ones(N, 2))


@pytest.mark.parametrize("name", ["lstm", "lstm-att"])
def test_lstm_on_padded_input_equals_unpadded(name):
    model = build(name, "upper10").eval()
    short = batch("upper10", t=10)
    short[1, :, 7:] = 0  # second sample: 7 valid frames, padded to 10
    padded = torch.cat([short, torch.zeros(N, 3, 6, 10, 2)], dim=2)
    with torch.no_grad():
        za, fa = model.forward_features(short)
        zb, fb = model.forward_features(padded)
        zc = model(short[1:2, :, :7])
    assert torch.allclose(za, zb, atol=1e-6) and torch.allclose(fa, fb, atol=1e-6)
    assert torch.allclose(zb[1:], zc, atol=1e-6)


def test_cnn_overfits_a_few_samples():
    torch.manual_seed(0)
    model = build("cnn", "upper10")
    x = batch("upper10", n=8, seed=5)
    y = torch.arange(8) % E
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.predict_class(model(x)), y)
