"""The GCN family (ST-GCN, 2s-AGCN, S-STGCN): one backbone per variant, the shared block,
stride rule, bone stream, two-stream wrapper and the upgrade of old state-dict keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from ela.data.transforms import to_bone
from ela.errors import CheckpointError, ElaError
from ela.models.blocks import UnitGCN, graph_tensor, resolve_stages
from ela.models.gcn import GCN, GCNBackbone, GCNBlock
from ela.models.registry import create_model, model_options
from ela.models.sstgcn import SelfAttentionGraphConv
from ela.models.two_stream import TwoStreamGCN
from ela.skeleton.features import bone_stream
from ela.skeleton.layouts import get_layout
from ela.training.checkpoint import load, save_checkpoint

PAPER_WIDTHS = {"stgcn": [64] * 4 + [128] * 3 + [256] * 3, "agcn": [64] * 4 + [128] * 3 + [256] * 3,
                "sstgcn": [32] * 4 + [64] * 3 + [128] * 3}
PAPER_STRIDES = [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check_paper_backbone(backbone: GCNBackbone, name: str, v: int) -> None:
    """mmaction2-style backbone check: stages, strides, residuals and the output shape."""
    assert [b.tcn.conv.out_channels for b in backbone.blocks] == PAPER_WIDTHS[name]
    assert [b.tcn.conv.stride[0] for b in backbone.blocks] == PAPER_STRIDES
    assert backbone.blocks[0].residual is None
    assert all(b.residual is not None for b in backbone.blocks[1:])
    with torch.no_grad():
        out = backbone.eval()(torch.randn(2, 3, 13, v))
    assert out.shape == (2, PAPER_WIDTHS[name][-1], 4, v)  # ⌈⌈13 / 2⌉ / 2⌉ frames


def test_stgcn_backbone():
    model = create_model("stgcn", "ntu25", 60)
    check_paper_backbone(model.backbone, "stgcn", 25)
    block = model.backbone.blocks[4]
    assert isinstance(block.gcn, UnitGCN) and not block.gcn.adaptive
    assert block.gcn.importance is not None and block.down is None
    assert n_params(model) == 3_096_016


def test_agcn_backbone():
    model = create_model("agcn", "ntu25", 60)
    check_paper_backbone(model.backbone, "agcn", 25)
    block = model.backbone.blocks[4]
    assert isinstance(block.gcn, UnitGCN) and block.gcn.adaptive
    assert block.down is not None and torch.all(block.gcn_bn.weight == 1e-6)
    assert n_params(model) == 3_466_544  # the paper's 3.47 M per stream
    assert n_params(create_model("2s-agcn", "ntu25", 60)) == 2 * 3_466_544


def test_sstgcn_backbone():
    model = create_model("sstgcn", "upper10", 4)
    check_paper_backbone(model.backbone, "sstgcn", 10)
    block = model.backbone.blocks[4]
    assert isinstance(block.gcn, SelfAttentionGraphConv) and block.down is None
    assert isinstance(model.backbone.data_bn, torch.nn.BatchNorm2d)  # per coordinate
    assert n_params(model) == 1_011_858
    assert n_params(create_model("2s-sstgcn", "upper10", 4)) == 2 * 1_011_858
    assert n_params(create_model("2s-sstgcn", "upper10", 4, fusion="fc")) == (
        2 * 1_011_858 + 8 * 4 + 4)


def test_gcn_block_paths():
    A = graph_tensor(get_layout("upper10"))
    block = GCNBlock(UnitGCN(4, 8, A), 4, 8, stride=2, down=True, bn_weight=0.5).eval()
    assert block.down is not None and block.residual is not None
    assert torch.all(block.gcn_bn.weight == 0.5)
    assert block(torch.randn(2, 4, 7, 10)).shape == (2, 8, 4, 10)
    plain = GCNBlock(UnitGCN(8, 8, A), 8, 8, residual=False)
    assert plain.down is None and plain.residual is None


def test_resolve_stages_has_one_stride_rule():
    assert resolve_stages([8, 8, 16, 16, 8, 32], None, "m") == (
        [8, 8, 16, 16, 8, 32], [1, 1, 2, 1, 1, 2])
    assert resolve_stages([8, 16], [1, 3], "m") == ([8, 16], [1, 3])
    with pytest.raises(ElaError, match="m: strides must be 2"):
        resolve_stages([8, 16], [1], "m")
    with pytest.raises(ElaError, match="m: channels"):
        resolve_stages([], None, "m")
    with pytest.raises(ElaError, match="data_bn"):
        GCNBackbone(3, 10, lambda i, o: UnitGCN(i, o, graph_tensor(get_layout("upper10"))),
                    [8], data_bn="none")


@pytest.mark.parametrize("layout", ["ntu25", "kinect20", "upper10"])
def test_bone_stream_is_joint_minus_parent_for_models_and_data(layout):
    lay = get_layout(layout)
    x = torch.randn(2, 3, 5, lay.num_joints, 2, requires_grad=True)
    bones = bone_stream(x, lay)
    for j, p in enumerate(lay.parents):
        expect = torch.zeros_like(x[..., j, :]) if p < 0 else x[..., j, :] - x[..., p, :]
        assert torch.equal(bones[..., j, :], expect)
    np.testing.assert_array_equal(to_bone(x[0].detach().numpy(), lay), bones[0].detach().numpy())
    bones.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_variant_options_come_from_the_one_stream_factory():
    assert model_options("agcn-bone") == model_options("agcn")
    assert model_options("2s-agcn") == {**model_options("agcn"), "fusion": "logits"}
    assert model_options("2s-sstgcn") == {**model_options("sstgcn"), "fusion": "sum"}
    assert "strides" in model_options("sstgcn") and "edge_importance" in model_options("stgcn")


def test_two_stream_fusions():
    cfg = {"channels": [4, 8], "temporal_kernel": 3, "heads": 2}
    x = torch.randn(2, 3, 6, 10, 1)
    torch.manual_seed(0)
    model = create_model("2s-sstgcn", "upper10", 4, fusion="logits", **cfg).eval()
    with torch.no_grad():
        zj, zb, _ = model.stream_logits(x)
        torch.testing.assert_close(model(x), zj + zb)
    with pytest.raises(ElaError, match="fusion"):
        create_model("2s-agcn", "upper10", 4, fusion="max", channels=[4])
    joint = create_model("sstgcn", "upper10", 4, **cfg).eval()
    bone = create_model("sstgcn-bone", "upper10", 4, **cfg).eval()
    both = TwoStreamGCN.from_streams(joint, bone).eval()
    with torch.no_grad():
        torch.testing.assert_close(both.joint_stream(x), joint(x))
        torch.testing.assert_close(both.bone_stream(x), bone(x))
    with pytest.raises(ElaError, match="bone stream"):
        TwoStreamGCN.from_streams(joint, joint)


def old_sstgcn_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The key names an S-STGCN had before issue 13."""
    return {k.replace(".gcn_bn.", ".ssgc.bn_out.").replace(".gcn.", ".ssgc.", 1): v
            for k, v in state.items()}


def test_old_keys_are_renamed():
    model = create_model("sstgcn", "upper10", 4, channels=[4, 8], heads=2)
    state = model.state_dict()
    old = old_sstgcn_keys(state)
    assert "backbone.blocks.1.ssgc.gcn.A" in old and "backbone.blocks.1.ssgc.bn_out.weight" in old
    assert model.upgrade_state_dict(old).keys() == state.keys()
    assert model.upgrade_state_dict(state).keys() == state.keys()  # current keys stay


def test_old_sstgcn_with_shrinking_widths_names_the_stride_change(tmp_path):
    model = create_model("sstgcn", "upper10", 4, channels=[8, 4], heads=2)
    assert isinstance(model, GCN) and model.backbone.strides == [1, 1]
    save_checkpoint(model, tmp_path)
    weights = tmp_path / "model.safetensors"
    save_file(old_sstgcn_keys(load_file(str(weights))), str(weights))
    with pytest.raises(CheckpointError, match=r"stride 2 where the width shrinks.*\[1, 2\]"):
        load(tmp_path)
