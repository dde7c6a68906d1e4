"""3D families (I3D/S3D on Inception-v1 and ResNet, MMAction2's I3D, SlowOnly, SlowFast, R(2+1)D).

Counts are exact against the published tables: parameters (ibm-study 8b, mmaction-benchmark 1.7), conv MACs at
224 (ibm-study 8b) and MMAction2's own FLOP convention at 256 (mmaction-benchmark 1.2-1.5). Shapes and counts are
taken on the meta device (no memory, no arithmetic); one training step runs every model on a tiny clip.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from actionbook.errors import ConfigError
from actionbook.measure import model_complexity
from actionbook.models import build_model, list_models

IBM_RESNET_3D = [f"{kind}_r{depth}" for kind in ("i3d", "s3d") for depth in (18, 34, 50, 101, 152)]
MMACTION_3D = ["mmaction_i3d_r50", "mmaction_i3d_r50_heavy", "mmaction_slowonly_r50", "mmaction_slowfast_r50_4x16",
               "mmaction_slowfast_r50_8x8", "mmaction_r2plus1d_r34"]
ALL_3D = ["i3d", "s3d"] + IBM_RESNET_3D + MMACTION_3D


def meta_model(name: str, num_classes: int = 400, frames: int = 8, **options) -> nn.Module:
    with torch.device("meta"):
        return build_model(name, num_classes=num_classes, frames=frames, **options)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_all_registered():
    assert set(ALL_3D) <= set(list_models())


# ibm-study 8b: params without the FC, and the FC's input width (total = backbone + (F + 1) * C)
IBM_PARAMS = [
    ("i3d", {}, 12_287_264, 1024),
    ("s3d", {}, 7_903_328, 1024),
    ("s3d", {"dw_t_conv": True}, 5_638_304, 1024),
    ("i3d_r18", {}, 33_166_272, 512),
    ("i3d_r34", {}, 63_475_904, 512),
    ("i3d_r50", {}, 46_161_344, 2048),
    ("i3d_r101", {}, 85_207_488, 2048),
    ("i3d_r152", {}, 117_366_208, 2048),
    ("s3d_r18", {}, 15_380_928, 512),
    ("s3d_r34", {}, 28_863_424, 512),
    ("s3d_r50", {}, 27_306_816, 2048),
    ("s3d_r101", {}, 49_649_984, 2048),
    ("s3d_r152", {}, 68_053_824, 2048),
    ("s3d_r18", {"dw_t_conv": True}, 11_214_528, 512),
    ("s3d_r34", {"dw_t_conv": True}, 21_341_248, 512),
    ("s3d_r50", {"dw_t_conv": True}, 23_545_728, 2048),
    ("s3d_r101", {"dw_t_conv": True}, 42_559_616, 2048),
    ("s3d_r152", {"dw_t_conv": True}, 58_222_464, 2048),
]


@pytest.mark.parametrize("name,options,backbone,features", IBM_PARAMS)
def test_ibm_params(name, options, backbone, features):
    # (temporal pooling changes strides only, never the count)
    for num_classes, pooling in ((174, "none"), (400, "max")):
        model = meta_model(name, num_classes, temporal_pooling=pooling, **options)
        assert n_params(model) == backbone + (features + 1) * num_classes


MMACTION_PARAMS = [
    ("mmaction_i3d_r50", {}, 28_043_472),
    ("mmaction_i3d_r50_heavy", {}, 33_024_208),  # README 33.0M; the exact figure is derived (spec 1.2)
    ("mmaction_slowonly_r50", {}, 32_454_096),
    ("mmaction_slowfast_r50_4x16", {}, 34_479_288),
    ("mmaction_slowfast_r50_8x8", {}, 34_565_560),
    ("mmaction_slowfast_r50_8x8", {"lateral_kernel": 5}, 34_479_288),  # the 2020-07-01 config
    ("mmaction_r2plus1d_r34", {}, 63_759_281),
]


@pytest.mark.parametrize("name,options,expected", MMACTION_PARAMS)
def test_mmaction_params(name, options, expected):
    assert n_params(meta_model(name, 400, 32, **options)) == expected


# ibm-study 8b: conv MACs at 224, batch 1: (f8, f8 with temporal pooling, f16, f16 with temporal pooling)
CONV_MACS = [
    ("i3d", {}, (33_806_581_760, 21_411_353_600, 67_613_163_520, 42_822_707_200)),
    ("s3d", {}, (19_778_626_560, 12_264_670_208, 39_712_547_840, 24_529_340_416)),
    ("s3d", {"dw_t_conv": True}, (13_784_987_328, 8_430_712_640, 27_683_864_768, 16_861_425_280)),
    ("i3d_r50", {}, (64_180_322_304, 29_460_135_936, 128_360_644_608, 58_920_271_872)),
    ("s3d_r50", {}, (39_517_814_784, 19_672_203_264, 79_035_629_568, 39_344_406_528)),
    ("s3d_r18", {"dw_t_conv": True}, (16_432_840_704, 9_839_212_544, 32_865_681_408, 19_678_425_088)),
]


@pytest.mark.parametrize("name,options,expected", CONV_MACS)
def test_conv_macs(name, options, expected):
    got = tuple(model_complexity(name, 400, frames, temporal_pooling=pooling, **options)["conv_macs"]
                for frames in (8, 16) for pooling in ("none", "max"))
    assert got == expected


@pytest.mark.parametrize("frames", [8, 16, 32])
def test_i3d_legacy_pool5_macs(frames):
    """Spec 8.3: some published I3D rows were counted with a 2x2x2 pool before inception5a (T-1 frames there)."""
    assert model_complexity("i3d", 400, frames)["conv_macs"] == 4_225_822_720 * frames
    legacy = model_complexity("i3d", 400, frames, legacy_pool5=True)["conv_macs"]
    assert legacy == 4_225_822_720 * frames - 232_967_168


# mmaction-benchmark 1.2-1.5: the 0.x model-zoo FLOPs (mmcv's counter: convs, BN, ReLU, pools, FC) are at 256x256.
MMACTION_FLOPS_256 = [
    ("mmaction_i3d_r50", 32, 43_564_040_192),
    ("mmaction_slowonly_r50", 4, 27_430_649_856),
    ("mmaction_slowonly_r50", 8, 54_860_480_512),
    ("mmaction_slowfast_r50_4x16", 32, 36_441_296_896),
    ("mmaction_slowfast_r50_8x8", 32, 66_222_034_944),
]


@pytest.mark.parametrize("name,frames,expected", MMACTION_FLOPS_256)
def test_mmaction_flops_at_256(name, frames, expected):
    assert model_complexity(name, 400, frames, input_size=256)["mmaction_flops"] == expected


def temporal_sizes(model: nn.Module, frames: int, modules: list[str], size: int = 224) -> dict[str, int]:
    """T of each named module's output, from a meta forward pass."""
    sizes = {}
    for name in modules:
        model.get_submodule(name).register_forward_hook(lambda m, i, o, name=name: sizes.__setitem__(name, o.shape[2]))
    model(torch.empty(1, 3, frames, size, size, device="meta"))
    return sizes


def test_mmaction_i3d_temporal_sizes():
    model = meta_model("mmaction_i3d_r50", frames=32)
    assert temporal_sizes(model, 32, ["conv1", "maxpool", "pool2", "layer4"]) == {
        "conv1": 16, "maxpool": 8, "pool2": 4, "layer4": 4}
    assert model.features(torch.empty(1, 3, 32, 224, 224, device="meta")).shape == (1, 2048, 4, 7, 7)


@pytest.mark.parametrize("frames,out_t", [(8, 4), (32, 16)])
def test_mmaction_i3d_heavy_halves_t_once(frames, out_t):
    model = meta_model("mmaction_i3d_r50_heavy", frames=frames)
    assert temporal_sizes(model, frames, ["maxpool", "layer4"]) == {"maxpool": frames, "layer4": out_t}
    assert all(block.conv1.kernel_size == (3, 1, 1) for layer in model.stages() for block in layer)


def test_slowonly_and_r2plus1d_temporal_sizes():
    slowonly = meta_model("mmaction_slowonly_r50", frames=8)
    assert temporal_sizes(slowonly, 8, ["layer1", "layer4"]) == {"layer1": 8, "layer4": 8}
    r2plus1d = meta_model("mmaction_r2plus1d_r34", frames=8)
    assert temporal_sizes(r2plus1d, 8, [f"layer{i}" for i in range(1, 5)]) == {
        "layer1": 8, "layer2": 4, "layer3": 2, "layer4": 1}


@pytest.mark.parametrize("name,slow_t", [("mmaction_slowfast_r50_4x16", 4), ("mmaction_slowfast_r50_8x8", 8)])
def test_slowfast_pathway_shapes(name, slow_t):
    slow, fast = meta_model(name, frames=32).features(torch.empty(1, 3, 32, 224, 224, device="meta"))
    assert slow.shape == (1, 2048, slow_t, 7, 7)
    assert fast.shape == (1, 256, 32, 7, 7)


class _Stop(Exception):
    pass


def test_slowfast_slow_pathway_takes_every_alpha_th_frame():
    model = build_model("mmaction_slowfast_r50_4x16", num_classes=3, frames=16)
    seen = []

    def capture(module, inputs):
        seen.append(inputs[0])
        raise _Stop  # the slow stem runs first: nothing after it is needed

    model.slow.conv1.register_forward_pre_hook(capture)
    x = torch.randn(1, 3, 16, 8, 8)
    with pytest.raises(_Stop):
        model(x)
    assert torch.equal(seen[0], x[:, :, ::8])
    assert [lat.in_channels for lat in model.laterals] == [8, 32, 64, 128]
    assert [layer[0].conv1.in_channels for layer in model.slow.stages()] == [64 + 16, 256 + 64, 512 + 128, 1024 + 256]


def test_r2plus1d_factorisation():
    model = meta_model("mmaction_r2plus1d_r34")
    assert model.conv1.kernel_size == (1, 7, 7) and model.conv1_t.kernel_size == (3, 1, 1)
    assert model.conv1.out_channels == 83  # M = floor(3*49*3*64 / (49*3 + 3*64))
    block = model.layer1[0]
    assert block.conv1.out_channels == 144  # 64 -> 64, 3x3x3
    assert (block.bn1.eps, block.bn1_t.eps) == (1e-5, 1e-3)  # plain BN inside the pair, eps 1e-3 after it
    shortcut = model.layer2[0].downsample  # the factorised 1x1x1 projection: spatial (1,2,2), temporal (2,1,1)
    assert shortcut[0].out_channels == 3 * 64 * 128 // (64 + 3 * 128)
    assert (shortcut[0].stride, shortcut[3].stride) == ((1, 2, 2), (2, 1, 1))


def test_s3d_layouts():
    s3d = meta_model("s3d")
    assert s3d.conv3.conv.kernel_size == (1, 3, 3) and s3d.conv3.conv_t.kernel_size == (3, 1, 1)
    assert s3d.conv3.conv_t.bias is not None and s3d.conv1.conv_t is None
    assert meta_model("s3d", dw_t_conv=True).conv3.conv_t.groups == 192
    s3d_r50 = meta_model("s3d_r50", temporal_pooling="max")
    block = s3d_r50.layer2[0]
    assert (block.conv2.stride, block.conv2_t.stride, block.downsample[0].stride) == ((1, 2, 2), (2, 1, 1), (2, 2, 2))
    assert s3d_r50.conv1.kernel_size == (3, 7, 7) and s3d_r50.conv1_t is None


@pytest.mark.parametrize("name,frames,options,match", [
    ("i3d", 12, {"temporal_pooling": "max"}, "multiple of 8"),
    ("s3d", 4, {"temporal_pooling": "avg"}, "multiple of 8"),
    ("i3d_r50", 12, {"temporal_pooling": "max"}, "multiple of 8"),
    ("s3d", 1, {}, "T-1"),
    ("i3d", 1, {"legacy_pool5": True}, "T-1"),
    ("i3d", 8, {"temporal_pooling": "mean"}, "temporal_pooling"),
    ("i3d_r18", 8, {"dw_t_conv": True}, "does not take"),
    ("mmaction_slowfast_r50_4x16", 12, {}, "every 8-th frame"),
    ("mmaction_slowfast_r50_8x8", 32, {"lateral_kernel": 4}, "lateral_kernel"),
    ("mmaction_i3d_r50", 4, {}, "at least 5"),
])
def test_invalid_configurations(name, frames, options, match):
    with pytest.raises(ConfigError, match=match):
        meta_model(name, frames=frames, **options)


def test_clip_checked():
    model = meta_model("i3d_r18", frames=8)
    with pytest.raises(ConfigError, match="T=16"):
        model(torch.empty(1, 3, 16, 32, 32, device="meta"))
    with pytest.raises(ConfigError, match="N, 3, T, H, W"):
        model(torch.empty(1, 8, 3, 32, 32, device="meta"))


def test_initialisation():
    ibm = build_model("i3d", num_classes=400, frames=8)
    assert ibm.head.fc.weight.std().item() == pytest.approx(0.001, rel=0.05)
    assert not ibm.head.fc.bias.any() and ibm.conv3.bn.weight.eq(1).all()
    slowonly = build_model("mmaction_slowonly_r50", num_classes=400, frames=4)
    assert slowonly.head.fc.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert all(not block.bn3.weight.any() for layer in slowonly.stages() for block in layer)  # zero-init residual
    assert slowonly.layer1[0].bn2.weight.eq(1).all()


# One training step on a tiny clip. Every model and layout option runs forward and backward on the meta device (the
# whole graph, on shapes alone); on the CPU, by default, a few models that cover the distinct layers run it (the
# rest with -m slow; test_pretrained also runs MMAction2's I3D and the S3D convs on the CPU).
STEPS = [(name, 8, {}) for name in ALL_3D] + [
    ("i3d", 8, {"temporal_pooling": "avg", "legacy_pool5": True}),
    ("s3d", 8, {"temporal_pooling": "max", "dw_t_conv": True}),
    ("s3d_r18", 8, {"temporal_pooling": "max", "dw_t_conv": True}),
    ("i3d_r50", 8, {"temporal_pooling": "avg"}),
]
CPU_BY_DEFAULT = {"i3d", "s3d_r18", "mmaction_slowfast_r50_8x8", "mmaction_r2plus1d_r34"}  # (+ test_pretrained)
CPU_STEPS = [pytest.param(*step, marks=() if step[0] in CPU_BY_DEFAULT and not step[2] else pytest.mark.slow)
             for step in STEPS]


def training_step(model: nn.Module, frames: int, size: int, device: str) -> torch.Tensor:
    logits = model(torch.randn(2, 3, frames, size, size, device=device))
    logits.logsumexp(dim=1).mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    return logits


def _ids(value):
    return str(value) if isinstance(value, dict) else None


@pytest.mark.parametrize("name,frames,options", CPU_STEPS, ids=_ids)
def test_training_step(name, frames, options):
    torch.manual_seed(0)
    model = build_model(name, num_classes=5, frames=frames, **options)
    assert model.frames == frames
    size = 32 if name in ("i3d", "s3d") else 16  # Inception needs 2x2 before its last pool
    logits = training_step(model, frames, size, "cpu")
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name,frames,options", STEPS, ids=_ids)
def test_training_step_on_meta(name, frames, options):
    model = meta_model(name, num_classes=5, frames=frames, **options)
    assert training_step(model, frames, 32, "meta").shape == (2, 5)
