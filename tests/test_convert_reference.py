"""Converted networks compute what the reference code computes: each reference network is built from its own code
with random weights and random BatchNorm statistics, saved in its released layout, converted, and both score the
same clip in eval mode, float32: max abs logit difference <= 1e-4.

pytorchvideo (the `compare` extra) runs by default; MMAction2 (a side install, see `actionbook bench --help`) in the
slow run where it is installed. The IBM code is not a package: tests/data/ibm_layouts.json records its check.
"""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from actionbook.convert import convert_checkpoint
from actionbook.models import build_model

TOLERANCE = 1e-4
CLASSES = 10


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Every float tensor random, BN statistics included (running_var positive), and eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.dtype.is_floating_point:
                continue
            if name.endswith("running_var") or (name.endswith("weight") and tensor.dim() == 1):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.5 + 0.75)
            elif name.endswith(("running_mean", "bias")):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) / tensor[0].numel() ** 0.5)
    return model.eval()


def _max_difference(reference, reference_input, ours: nn.Module, clip: torch.Tensor) -> float:
    with torch.no_grad():
        return (reference(reference_input) - ours.eval()(clip)).abs().max().item()


def _convert(tmp_path, container: dict, source: str, model: str, frames: int) -> nn.Module:
    path = tmp_path / f"{source}-{model}.pyth"
    torch.save(container, path)
    converted = convert_checkpoint(path, source, model, frames=frames)
    assert not converted.report.initialised or all("step counter" in why for _, why in converted.report.initialised)
    net = build_model(model, num_classes=converted.checkpoint["num_classes"], frames=frames)
    net.load_state_dict(converted.checkpoint["model"])
    return net


# ---- pytorchvideo: its hub layout ({'model_state': ...}) for SlowOnly R50, I3D R50, SlowFast R50 8x8 -------------

needs_pytorchvideo = pytest.mark.skipif(importlib.util.find_spec("pytorchvideo") is None,
                                        reason="pytorchvideo is not installed (pip install -e '.[compare]')")
PYTORCHVIDEO_HEAD = dict(model_num_class=CLASSES, dropout_rate=0.5, head_pool=nn.AdaptiveAvgPool3d,
                         head_output_size=(1, 1, 1), head_activation=None)


def _pytorchvideo_hub(model: str) -> nn.Module:
    """The network of pytorchvideo's hub checkpoint for `model` (its hub builders, no weights), head pooling global."""
    from pytorchvideo.models.hub import resnet

    builder = {"mmaction_slowonly_r50": resnet.slow_r50, "pyslowfast_i3d_r50": resnet.i3d_r50}[model]
    return builder(pretrained=False, **PYTORCHVIDEO_HEAD)


@needs_pytorchvideo
@pytest.mark.parametrize("model, frames", [("mmaction_slowonly_r50", 8), ("pyslowfast_i3d_r50", 8)])
def test_pytorchvideo_single_pathway_networks_convert_exactly(tmp_path, model, frames):
    """The hub's SLOW_8x8_R50 and I3D_8x8_R50 networks."""
    reference = randomise(_pytorchvideo_hub(model))
    ours = _convert(tmp_path, {"model_state": reference.state_dict()}, "pytorchvideo", model, frames)
    clip = torch.randn(2, 3, frames, 64, 64, generator=torch.Generator().manual_seed(1))
    assert _max_difference(reference, clip, ours, clip) <= TOLERANCE


@needs_pytorchvideo
def test_pytorchvideo_slowfast_converts_exactly_to_the_pyslowfast_variant(tmp_path):
    """pytorchvideo's hub slowfast_r50 (SLOWFAST_8x8_R50: laterals with BN and ReLU), fed as PySlowFast's loader
    feeds it: every frame to the fast pathway, linspace-spread frames to the slow one."""
    from pytorchvideo.models.hub.slowfast import slowfast_r50

    reference = randomise(slowfast_r50(pretrained=False, **PYTORCHVIDEO_HEAD))
    ours = _convert(tmp_path, {"model_state": reference.state_dict(), "epoch": 196}, "pytorchvideo",
                    "pyslowfast_slowfast_r50_8x8", 32)
    clip = torch.randn(1, 3, 32, 64, 64, generator=torch.Generator().manual_seed(1))
    slow = clip.index_select(2, torch.linspace(0, 31, 8).long())
    assert _max_difference(reference, [slow, clip], ours, clip) <= TOLERANCE
    # the MMAction2 SlowFast (no lateral BN) is another network: its conversion is refused in one line
    path = tmp_path / "pytorchvideo-pyslowfast_slowfast_r50_8x8.pyth"
    with pytest.raises(Exception, match="checkpoint keys the model does not have"):
        convert_checkpoint(path, "pytorchvideo", "mmaction_slowfast_r50_8x8", frames=32)


# ---- MMAction2 (side install): 1.x and 0.x layouts of the benchmark networks --------------------------------------

SIDE_INSTALL = Path(__file__).resolve().parents[1] / ".venv" / "extras" / "mmaction2"  # actionbook bench --help


def _mmaction_available() -> bool:
    if SIDE_INSTALL.is_dir() and str(SIDE_INSTALL) not in sys.path:
        sys.path.append(str(SIDE_INSTALL))
    try:
        from actionbook.studies.mmaction import peers

        peers._import_mmaction()
        return True
    except Exception:  # not installed, or an mmcv that does not import here
        return False


MMACTION_CASES = ["tsn", "tsm", "i3d", "i3d_heavy", "slowonly_8x8", "slowfast_4x16", "slowfast_8x8", "r2plus1d_8x8"]


@pytest.mark.slow
@pytest.mark.parametrize("key", MMACTION_CASES)
def test_mmaction2_networks_convert_exactly(tmp_path, key):
    if not _mmaction_available():
        pytest.skip("MMAction2 is not installed beside the project (see `actionbook bench --help`)")
    from actionbook.studies.mmaction import cases, peers

    case = cases.bench_case(key)
    reference = randomise(peers._build_mmaction2(case))
    frames = case.frames
    state = reference.state_dict()
    # 1.x: the recognizer's data preprocessor keeps the normalisation constants in the state dict
    layout_1x = {**state, "data_preprocessor.mean": torch.zeros(3, 1, 1, 1),
                 "data_preprocessor.std": torch.ones(3, 1, 1, 1)}
    clip = torch.randn(1, 3, frames, 64, 64, generator=torch.Generator().manual_seed(1))
    for container in ({"meta": {"mmengine_version": "0.10.7"}, "state_dict": layout_1x},
                      {"meta": {"mmaction2_version": "0.24.1"}, "state_dict": state}):
        ours = _convert(tmp_path, container, "mmaction2", case.model, frames)
        assert _max_difference(reference, clip, ours, clip) <= TOLERANCE
