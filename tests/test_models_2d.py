"""2D model families (TSN, TAM, MMAction2's TSN and TSM): exact sizes, counts, TAM/TSM semantics, errors.

Sizes and MACs are counted on the meta device (shapes only, no arithmetic), so the large configurations are cheap;
every registered model also runs one real forward and backward pass on a tiny clip.
"""

from __future__ import annotations

import math

import pytest
import torch
import torchvision

from actionbook.errors import ConfigError
from actionbook.measure import count_params, model_complexity
from actionbook.models import build_model, list_models, model_entry
from actionbook.models.common import SegmentConsensusHead, TemporalPooling
from actionbook.models.resnet2d import TemporalShift
from actionbook.models.tam import TAM

DEPTHS = (18, 34, 50, 101, 152)
MY_MODELS = ([f"tsn_r{d}" for d in DEPTHS] + [f"tam_r{d}" for d in DEPTHS]
             + ["tsn_inception_v1", "tam_inception_v1", "mmaction_tsn_r50", "mmaction_tsm_r50"])


def meta_model(name: str, num_classes: int = 400, frames: int = 8, **options):
    with torch.device("meta"):
        return build_model(name, num_classes, frames, **options)


# --- exact parameter counts (ibm-study spec 1.2, 1.3, 8b; mmaction spec 1.1, 1.3) ---------------------------------

# model, options, backbone params without the FC, FC input features
BACKBONES = [
    ("tsn_r18", {}, 11_176_512, 512),
    ("tsn_r34", {}, 21_284_672, 512),
    ("tsn_r50", {}, 23_508_032, 2048),
    ("tsn_r101", {}, 42_500_160, 2048),
    ("tsn_r152", {}, 58_143_808, 2048),
    ("tam_r18", {}, 11_180_928, 512),
    ("tam_r34", {}, 21_294_656, 512),
    ("tam_r50", {}, 23_547_392, 2048),
    ("tam_r101", {}, 42_591_744, 2048),
    ("tam_r152", {}, 58_281_472, 2048),
    ("tam_r50", {"blending_frames": 5}, 23_573_632, 2048),
    ("tam_r50", {"dw_conv": False}, 71_296_064, 2048),
    ("tsn_inception_v1", {}, 5_599_904, 1024),
    ("tam_inception_v1", {}, 5_617_328, 1024),
    ("tam_inception_v1", {"blending_frames": 5}, 5_628_944, 1024),
]


@pytest.mark.parametrize("num_classes", [174, 400])
@pytest.mark.parametrize(("name", "options", "backbone", "features"), BACKBONES)
def test_exact_params(name, options, backbone, features, num_classes):
    model = meta_model(name, num_classes, **options)
    assert count_params(model) == backbone + (features + 1) * num_classes


@pytest.mark.parametrize(("name", "expected"), [
    ("tam_inception_v1", 5_795_678), ("tam_r50", 23_903_918), ("tsn_inception_v1", 5_778_254), ("tsn_r50", 23_864_558),
])
def test_seed_table_params_ssv2(name, expected):
    assert count_params(meta_model(name, 174, 16)) == expected


@pytest.mark.parametrize("name", ["mmaction_tsn_r50", "mmaction_tsm_r50"])
def test_mmaction_params(name):
    assert count_params(meta_model(name, 400, 8)) == 24_327_632


# --- conv MACs at 224x224, batch 1 (ibm-study spec 8.2, 8b) --------------------------------------------------------

@pytest.mark.parametrize(("name", "frames", "options", "expected"), [
    ("tsn_r18", 1, {}, 1_813_561_344),
    ("tsn_r50", 1, {}, 4_087_136_256),
    ("tsn_inception_v1", 1, {}, 1_497_352_192),
    ("tam_r50", 1, {}, 4_087_136_256 + 16_859_136),
    ("tam_inception_v1", 1, {}, 1_497_352_192 + 8_523_648),
    ("tsn_r18", 8, {"temporal_pooling": "max"}, 7_520_780_288),
    ("tam_r18", 16, {"temporal_pooling": "avg"}, 15_070_311_424),
    ("tsn_r34", 16, {}, 58_611_990_528),
    ("tam_r101", 8, {"temporal_pooling": "max"}, 21_657_968_640),
    ("tam_r152", 16, {"temporal_pooling": "max"}, 61_728_522_240),
    ("tam_r50", 16, {}, 65_663_926_272),
    ("tam_r50", 8, {"dw_conv": False}, 106_992_893_952),
    ("tam_r50", 16, {"temporal_pooling": "max", "blending_frames": 5}, 28_528_869_376),
    ("tam_r50", 16, {"blending_method": "max"}, 65_663_926_272),
    ("tsn_inception_v1", 16, {"temporal_pooling": "max"}, 13_043_451_904),
    ("tam_inception_v1", 8, {"temporal_pooling": "max"}, 6_570_863_936),
    ("tam_inception_v1", 16, {"blending_frames": 5}, 24_184_932_352),
    ("mmaction_tsm_r50", 8, {}, 8 * 4_087_136_256),
])
def test_conv_macs(name, frames, options, expected):
    assert model_complexity(name, 400, frames, **options)["conv_macs"] == expected


def test_mmaction_flops_convention():
    """mmcv's counter at 224: TSN with 25 frames and TSM with 8 frames, as in MMAction2's metafiles (spec 1.7)."""
    assert model_complexity("mmaction_tsn_r50", 400, 25)["mmaction_flops"] == 102_997_721_600
    assert model_complexity("mmaction_tsm_r50", 400, 8)["mmaction_flops"] == 32_965_562_368


# --- names: torchvision ImageNet state dicts load by name -----------------------------------------------------------

@pytest.mark.parametrize(("name", "arch"), [("tsn_r34", "resnet34"), ("tam_r18", "resnet18"), ("tam_r50", "resnet50"),
                                            ("tsn_inception_v1", "googlenet"), ("tam_inception_v1", "googlenet")])
def test_state_dict_keys_match_torchvision(name, arch):
    """Every torchvision key is ours; the only extra keys are TAM's, and they say so (the loader keeps them random)."""
    assert model_entry(name).imagenet == arch
    kwargs = {"aux_logits": False, "init_weights": False} if arch == "googlenet" else {}
    with torch.device("meta"):
        reference = getattr(torchvision.models, arch)(**kwargs).state_dict()
    model = meta_model(name, num_classes=1000).state_dict()
    assert all(model[key].shape == tensor.shape for key, tensor in reference.items())
    ours, theirs = set(model), set(reference)
    assert ours - theirs == {key for key in ours if "tam" in key}
    assert bool(ours - theirs) == name.startswith("tam_")


@pytest.mark.parametrize(("name", "arch"), [("tsn_r18", "resnet18"), ("tsn_inception_v1", "googlenet")])
def test_one_frame_tsn_computes_what_torchvision_does(name, arch):
    """Same weights, same image: the 2D network is torchvision's, layer for layer."""
    torch.manual_seed(0)
    kwargs = {"aux_logits": False, "init_weights": False, "transform_input": False} if arch == "googlenet" else {}
    reference = getattr(torchvision.models, arch)(**kwargs).eval()
    model = build_model(name, num_classes=1000, frames=1).eval()
    model.load_state_dict(reference.state_dict())
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(images.unsqueeze(2)), reference(images), atol=1e-5)


# --- TAM semantics (spec 2.1) ----------------------------------------------------------------------------------------

def tam_with_weights(prev: float, curr: float, nxt: float, frames: int = 4, channels: int = 2, **options) -> TAM:
    tam = TAM(channels, frames, **options)
    with torch.no_grad():
        tam.weight.copy_(torch.tensor([prev, curr, nxt]).view(1, 1, 3, 1, 1).expand_as(tam.weight))
    return tam


def frames_valued(values, channels: int = 2) -> torch.Tensor:
    """A time-folded (N*T, C, 1, 1) map whose frame t holds values[n][t] in every channel."""
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, channels, 1, 1).contiguous()


def test_tam_sum_matches_the_spec_example():
    out = tam_with_weights(100, 10, 1)(frames_valued([1, 2, 3, 4]))
    assert out[:, 0].flatten().tolist() == [12, 123, 234, 340]
    assert out[:, 1].flatten().tolist() == [12, 123, 234, 340]


def test_tam_is_per_video_with_zero_padding():
    out = tam_with_weights(100, 10, 1)(frames_valued([[1, 2, 3, 4], [5, 6, 7, 8]]))
    assert out[:, 0].flatten().tolist() == [12, 123, 234, 340, 56, 567, 678, 780]


def test_tam_max_blending_and_relu():
    out = tam_with_weights(100, 10, 1, blending_method="max")(frames_valued([1, 2, 3, 4]))
    assert out[:, 0].flatten().tolist() == [10, 100, 200, 300]  # the zero pad loses to 10*1 and 1*2 at frame 0
    out = tam_with_weights(-1, -1, -1, blending_method="max")(frames_valued([1, 2, 3, 4]))
    assert out[:, 0].flatten().tolist() == [0, 0, 0, 0]  # the zero pad wins the max at the ends; ReLU does the rest


def test_tam_five_blending_frames_offsets():
    tam = TAM(1, 6, blending_frames=5)
    with torch.no_grad():
        tam.weight.copy_(torch.tensor([1e4, 1e3, 1e2, 10, 1]).view(1, 1, 5, 1, 1))
    out = tam(frames_valued([1, 2, 3, 4, 5, 6], channels=1)).flatten().tolist()
    assert out == [123, 1234, 12345, 23456, 34560, 45600]  # tap i reads frame t + i - 2


def test_tam_full_conv_mixes_channels():
    tam = TAM(2, 2, dw_conv=False)
    assert tam.weight.shape == (2, 2, 3, 1, 1)
    with torch.no_grad():
        tam.weight.zero_()
        tam.weight[0, 1, 1] = 1.0  # output channel 0 = input channel 1 of the same frame
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(2, 2, 1, 1)
    assert tam(x)[:, 0].flatten().tolist() == [2, 4]


def test_tam_inits():
    """Per tap, as the reference's separate 1x1 convs: kaiming-normal fan_out in ResNets (std sqrt(2/C)), PyTorch's
    default elsewhere (uniform(-1, 1) for a depthwise tap, whose fan-in is 1)."""
    torch.manual_seed(0)
    resnet = build_model("tam_r18", 10, 2)
    weights = torch.cat([m.weight.flatten() for m in resnet.modules() if isinstance(m, TAM) and m.in_channels == 512])
    assert weights.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.15)
    default = TAM(1024, 2).weight
    assert default.abs().max() <= 1 and default.std().item() == pytest.approx(1 / math.sqrt(3), rel=0.1)


def test_resnet_shortcut_takes_the_block_input_before_tam():
    model = build_model("tam_r18", 10, 2).eval()
    block = model.layer2[0]  # has a downsample projection
    with torch.no_grad():
        block.tam.weight.zero_()  # TAM now outputs zeros: only the shortcut sees x
        x = torch.randn(2, 64, 8, 8)
        expected = torch.relu(block.residual(torch.zeros_like(x)) + block.downsample(x))
        assert torch.allclose(block(x), expected)


# --- temporal pooling and the temporal shift -------------------------------------------------------------------------

def test_temporal_pooling_avg_counts_the_zero_pad():
    out = TemporalPooling(frames=8, method="avg")(torch.ones(8, 1, 1, 1))
    assert out.flatten().tolist() == pytest.approx([2 / 3, 1, 1, 1])
    out = TemporalPooling(frames=2, method="avg")(torch.ones(2, 1, 1, 1))  # an 8-frame clip's last pooling
    assert out.flatten().tolist() == pytest.approx([2 / 3])
    out = TemporalPooling(frames=4, method="max")(torch.tensor([1.0, 5.0, 2.0, 3.0]).view(4, 1, 1, 1))
    assert out.flatten().tolist() == [5, 5]  # output k covers frames 2k-1, 2k, 2k+1


def test_temporal_pooling_stage_frames():
    model = meta_model("tam_r50", frames=16, temporal_pooling="max")
    assert [model.layer1[0].tam.frames, model.layer2[0].tam.frames, model.layer3[0].tam.frames,
            model.layer4[0].tam.frames] == [16, 8, 4, 2]
    model = meta_model("tam_inception_v1", frames=16, temporal_pooling="avg")
    assert [model.tam3.frames, model.tam3b.frames, model.tam4e.frames, model.tam5b.frames] == [16, 8, 4, 2]


def test_temporal_shift_semantics():
    frames, channels = 3, 8  # shift_div 8: channel 0 from t+1, channel 1 from t-1, channels 2..7 stay
    x = (torch.arange(2 * frames).view(-1, 1, 1, 1) * 10 + torch.arange(channels).view(1, -1, 1, 1)).float()
    out = TemporalShift(frames, shift_div=8)(x).view(2, frames, channels)
    video = x.view(2, frames, channels)
    assert out[:, :, 0].tolist() == [[10, 20, 0], [40, 50, 0]]
    assert out[:, :, 1].tolist() == [[0, 1, 11], [0, 31, 41]]
    assert torch.equal(out[:, :, 2:], video[:, :, 2:])


def test_tsm_shifts_the_residual_branch_only():
    model = meta_model("mmaction_tsm_r50", frames=8)
    blocks = [b for layer in (model.layer1, model.layer2, model.layer3, model.layer4) for b in layer]
    assert len(blocks) == 16 and all(isinstance(b.shift, TemporalShift) for b in blocks)
    assert {b.shift.frames for b in blocks} == {8} and not any("shift" in k for k in model.state_dict())


# --- every model runs, forward and backward --------------------------------------------------------------------------

RUN_OPTIONS = {"tam_r50": {"temporal_pooling": "max"}, "tsn_r18": {"temporal_pooling": "avg"},
               "tam_inception_v1": {"temporal_pooling": "max", "blending_method": "max"},
               "tam_r18": {"dw_conv": False, "blending_frames": 5}}


@pytest.mark.parametrize("name", MY_MODELS)
def test_forward_backward(name):
    torch.manual_seed(0)
    options = RUN_OPTIONS.get(name, {})
    frames = 8 if "temporal_pooling" in options else 4  # pooling needs a multiple of 8; fewer frames run faster
    model = build_model(name, num_classes=5, frames=frames, **options)
    assert model.frames == frames
    logits = model(torch.randn(2, 3, frames, 32, 32))
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_registry_entries():
    assert model_entry("tam_r50").family == "TAM" and model_entry("tsn_r101").family == "TSN"
    assert model_entry("mmaction_tsm_r50").family == "TSM" and model_entry("mmaction_tsm_r50").source == "mmaction"
    assert model_entry("tsn_inception_v1").mean == (0.5, 0.5, 0.5)
    assert model_entry("tam_inception_v1").imagenet == "googlenet"
    assert set(model_entry("tam_r152").options) == {"temporal_pooling", "dropout", "blending_frames",
                                                    "blending_method", "dw_conv"}


def test_every_name_has_its_own_def():
    """Searching the code for a model's name finds `def <name>(` and its docstring, which is the entry's doc."""
    for name in list_models():
        entry = model_entry(name)
        assert entry.builder.__name__ == name and entry.doc == entry.builder.__doc__.strip() != ""


def test_segment_consensus_logits_and_features_agree_in_eval():
    heads = []
    for consensus in ("logits", "features"):
        torch.manual_seed(0)
        head = SegmentConsensusHead()
        head.add_head(8, 3, dropout=0.5, consensus=consensus)
        heads.append(head.eval())
    features = torch.randn(2, 4, 8)
    assert torch.allclose(heads[0].classify_segments(features), heads[1].classify_segments(features), atol=1e-6)


def test_mmaction_heads():
    tsn = build_model("mmaction_tsn_r50", 400, 3)
    assert tsn.consensus == "features" and tsn.dropout.p == 0.4
    assert tsn.fc.weight.std().item() == pytest.approx(0.01, rel=0.05) and not tsn.fc.bias.any()
    tsm = meta_model("mmaction_tsm_r50")
    assert tsm.consensus == "logits" and tsm.dropout.p == 0.5


# --- errors: one line, naming the problem ----------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "fragment"), [
    (lambda: build_model("tam_r50", 174, 12, temporal_pooling="max"), "frames=12"),
    (lambda: build_model("tsn_inception_v1", 174, 12, temporal_pooling="avg"), "multiple of 8"),
    (lambda: build_model("tsn_r50", 174, 8, temporal_pooling="mean"), "temporal_pooling"),
    (lambda: build_model("tsn_r50", 174, 8, blending_frames=3), "blending_frames"),
    (lambda: build_model("tam_r50", 174, 8, blending_method="avg"), "blending_method"),
    (lambda: build_model("tam_r50", 174, 8, blending_frames=0), "blending_frames"),
    (lambda: build_model("tsn_r18", 174, 8, dropout=1.5), "dropout"),
    (lambda: meta_model("tsn_r18", frames=8)(torch.zeros(3, 8, 32, 32, device="meta")), "(N, 3, T, H, W)"),
    (lambda: meta_model("tsn_r18", frames=8)(torch.zeros(1, 3, 4, 32, 32, device="meta")), "8 frames"),
])
def test_errors_are_one_line(call, fragment):
    with pytest.raises(ConfigError) as info:
        call()
    message = str(info.value)
    assert fragment in message and "\n" not in message
