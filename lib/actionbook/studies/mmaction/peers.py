"""The same networks from other maintained implementations (torchvision, pytorchvideo, MMAction2 itself), built to
MMAction2's 2020 configs, for `actionbook bench --compare`; and this project's own model of each case.

pytorchvideo and MMAction2 are optional (`pip install .[compare]`; MMAction2 through a side install, see the
command's --help): they are imported inside the builders that need them.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from actionbook.errors import ConfigError
from actionbook.measure.flops import count_flops
from actionbook.models import build_model
from actionbook.studies.mmaction.cases import NUM_CLASSES, BenchCase


@dataclass(frozen=True)
class Implementation:
    name: str  # actionbook, torchvision, pytorchvideo, mmaction2
    build: Callable[[BenchCase], nn.Module] | None  # None: no implementation of this network
    note: str
    version: str | None = None


def library_version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # an absent optional library
        return None


def build_ours(case: BenchCase) -> nn.Module:
    """This project's model of the case's network (actionbook.models)."""
    return build_model(case.model, num_classes=NUM_CLASSES, frames=case.frames)


# ---- torchvision: the 2D networks ----------------------------------------------------------------------------------

def _temporal_shift(x: torch.Tensor, frames: int, shift_div: int) -> torch.Tensor:
    """TSM's shift written independently for the torchvision comparison (pad-and-concatenate form)."""
    nt, c, h, w = x.shape
    video = x.view(nt // frames, frames, c, h, w)
    fold = c // shift_div
    from_next = F.pad(video[:, 1:, :fold], (0, 0, 0, 0, 0, 0, 0, 1))
    from_previous = F.pad(video[:, :-1, fold:2 * fold], (0, 0, 0, 0, 0, 0, 1, 0))
    return torch.cat((from_next, from_previous, video[:, :, 2 * fold:]), dim=2).view(nt, c, h, w)


class TorchvisionSegments(nn.Module):
    """torchvision's ResNet-50 on every frame, with MMAction2's TSN head (features averaged, dropout 0.4) or TSM
    head (logits averaged, dropout 0.5) and, for TSM, the shift applied to each bottleneck's conv1 input (a forward
    pre-hook: the residual branch only, as in TSM)."""

    def __init__(self, frames: int, num_classes: int, consensus: str, dropout: float, shift_div: int | None = None):
        super().__init__()
        self.frames, self.consensus = frames, consensus
        self.backbone = torchvision.models.resnet50()
        self.backbone.fc = nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2048, num_classes)
        if shift_div:
            for block in self.backbone.modules():
                if isinstance(block, torchvision.models.resnet.Bottleneck):
                    block.conv1.register_forward_pre_hook(
                        lambda _module, args: (_temporal_shift(args[0], frames, shift_div),))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        features = self.backbone(x.transpose(1, 2).reshape(n * t, c, h, w)).view(n, t, -1)
        if self.consensus == "features":
            return self.fc(self.dropout(features.mean(dim=1)))
        return self.fc(self.dropout(features)).mean(dim=1)


def _build_torchvision(case: BenchCase) -> nn.Module:
    if case.key == "tsm":
        return TorchvisionSegments(case.frames, NUM_CLASSES, "logits", 0.5, 8)
    return TorchvisionSegments(case.frames, NUM_CLASSES, "features", 0.4)


# ---- pytorchvideo: the 3D ResNet-50s -------------------------------------------------------------------------------

class TwoPathways(nn.Module):
    """Feeds a (N, 3, T, H, W) clip to a pytorchvideo SlowFast as [every alpha-th frame, every frame]."""

    def __init__(self, net: nn.Module, alpha: int):
        super().__init__()
        self.net, self.alpha = net, alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net([x[:, :, ::self.alpha], x])


_I3D_INFLATE_PV = ((3, 1, 1), [(3, 1, 1), (1, 1, 1)], [(3, 1, 1), (1, 1, 1)], [(1, 1, 1), (3, 1, 1)])


def _build_pytorchvideo(case: BenchCase) -> nn.Module:
    """MMAction2's 3D ResNet-50s assembled from pytorchvideo's builders (create_resnet / create_slowfast)."""
    from pytorchvideo.models.resnet import create_resnet  # optional library

    common = dict(model_depth=50, model_num_class=NUM_CLASSES, dropout_rate=0.5, head_pool=nn.AdaptiveAvgPool3d,
                  head_output_size=(1, 1, 1), head_activation=None)
    if case.key.startswith("slowonly"):
        return create_resnet(stem_conv_kernel_size=(1, 7, 7), **common)
    if case.key in ("i3d", "i3d_fast"):
        return create_resnet(stem_conv_kernel_size=(5, 7, 7), stem_conv_stride=(2, 2, 2),
                             stem_pool_stride=(2, 2, 2), stage1_pool=nn.MaxPool3d, stage1_pool_kernel_size=(2, 1, 1),
                             stage_conv_a_kernel_size=_I3D_INFLATE_PV, **common)
    if case.key == "i3d_heavy":
        return create_resnet(stem_conv_kernel_size=(5, 7, 7), stage1_pool=nn.MaxPool3d,
                             stage1_pool_kernel_size=(2, 1, 1), stage_conv_a_kernel_size=((3, 1, 1),) * 4, **common)
    if case.key.startswith("slowfast"):
        from pytorchvideo.models.slowfast import FastToSlowFusionBuilder, create_slowfast  # optional library

        alpha, kernel = (8, 5) if case.key == "slowfast_4x16" else (4, 7)
        fusion = FastToSlowFusionBuilder(slowfast_channel_reduction_ratio=8, conv_fusion_channel_ratio=2,
                                         conv_kernel_size=(kernel, 1, 1), conv_stride=(alpha, 1, 1), norm=None,
                                         activation=None, max_stage_idx=3).create_module
        net = create_slowfast(model_depth=50, model_num_class=NUM_CLASSES, dropout_rate=0.5, fusion_builder=fusion,
                              head_pool=nn.AdaptiveAvgPool3d, head_output_size=(1, 1, 1), head_activation=None)
        return TwoPathways(net, alpha)
    raise ConfigError(f"pytorchvideo has no builder for {case.key}")


# ---- MMAction2 itself ------------------------------------------------------------------------------------------------

def _import_mmaction():
    """MMAction2 1.2.0's PyPI wheel lacks mmaction/models/localizers/drn (open-mmlab/mmaction2#2714), which
    `mmaction.models` imports; stand in an empty module for that localizer (unused here) before importing."""
    spec = importlib.util.find_spec("mmaction")
    if spec is None:
        raise ImportError("mmaction2 is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    if not (root / "models" / "localizers" / "drn").is_dir():
        for name in ("mmaction.models.localizers.drn", "mmaction.models.localizers.drn.drn"):
            stub = types.ModuleType(name)
            stub.__path__ = []
            stub.DRN = None
            sys.modules.setdefault(name, stub)
    from mmaction.registry import MODELS  # optional library
    from mmaction.utils import register_all_modules

    register_all_modules(init_default_scope=True)
    return MODELS


class MmactionRecognizer(nn.Module):
    """An MMAction2 backbone and head (built from their registry with the 2020 configs' arguments), called as
    MMAction2's Recognizer2D/3D call them; the loss is the caller's, as for every implementation here."""

    def __init__(self, backbone: nn.Module, head: nn.Module, two_d: bool):
        super().__init__()
        from mmengine.logging import MMLogger  # optional library (MMAction2's)

        self.backbone, self.cls_head, self.two_d = backbone, head, two_d
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # init_weights logs every parameter at INFO
        try:
            for module in (self.backbone, self.cls_head):
                module.init_weights()
        finally:
            logger.setLevel(level)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.two_d:
            n, c, t, h, w = x.shape
            return self.cls_head(self.backbone(x.transpose(1, 2).reshape(n * t, c, h, w)), num_segs=t)
        return self.cls_head(self.backbone(x))


def _build_mmaction2(case: BenchCase) -> nn.Module:
    registry = _import_mmaction()
    head3d = dict(type="I3DHead", num_classes=NUM_CLASSES, in_channels=2048, spatial_type="avg", dropout_ratio=0.5,
                  init_std=0.01)
    slow = dict(type="ResNet3dSlowOnly", depth=50, pretrained=None, lateral=False, conv1_kernel=(1, 7, 7),
                conv1_stride_t=1, pool1_stride_t=1, inflate=(0, 0, 1, 1), norm_eval=False)
    if case.key == "tsn":
        backbone = dict(type="ResNet", depth=50, pretrained=None, norm_eval=False)
        head = dict(type="TSNHead", num_classes=NUM_CLASSES, in_channels=2048, spatial_type="avg",
                    consensus=dict(type="AvgConsensus", dim=1), dropout_ratio=0.4, init_std=0.01)
    elif case.key == "tsm":
        backbone = dict(type="ResNetTSM", depth=50, pretrained=None, pretrained2d=False, norm_eval=False,
                        num_segments=case.frames, shift_div=8)
        head = dict(type="TSMHead", num_classes=NUM_CLASSES, in_channels=2048, num_segments=case.frames,
                    spatial_type="avg", consensus=dict(type="AvgConsensus", dim=1), dropout_ratio=0.5,
                    init_std=0.001, is_shift=True)
    elif case.key in ("i3d", "i3d_fast", "i3d_heavy"):
        heavy = case.key == "i3d_heavy"
        backbone = dict(type="ResNet3d", depth=50, pretrained=None, pretrained2d=False, norm_eval=False,
                        conv1_kernel=(5, 7, 7), conv1_stride_t=1 if heavy else 2, pool1_stride_t=1 if heavy else 2,
                        with_pool2=True, zero_init_residual=False, conv_cfg=dict(type="Conv3d"),
                        inflate=(1, 1, 1, 1) if heavy else ((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)))
        head = head3d
    elif case.key.startswith("slowonly"):
        backbone, head = slow, head3d
    elif case.key.startswith("slowfast"):
        rate, kernel = (8, 5) if case.key == "slowfast_4x16" else (4, 7)
        backbone = dict(type="ResNet3dSlowFast", pretrained=None, resample_rate=rate, speed_ratio=rate,
                        channel_ratio=8,
                        slow_pathway=dict(type="resnet3d", depth=50, pretrained=None, lateral=True,
                                          fusion_kernel=kernel, conv1_kernel=(1, 7, 7), dilations=(1, 1, 1, 1),
                                          conv1_stride_t=1, pool1_stride_t=1, inflate=(0, 0, 1, 1), norm_eval=False),
                        fast_pathway=dict(type="resnet3d", depth=50, pretrained=None, lateral=False, base_channels=8,
                                          conv1_kernel=(5, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                                          norm_eval=False))
        head = dict(head3d, type="SlowFastHead", in_channels=2304)
    elif case.key.startswith("r2plus1d"):
        backbone = dict(type="ResNet2Plus1d", depth=34, pretrained=None, pretrained2d=False, norm_eval=False,
                        conv_cfg=dict(type="Conv2plus1d"), norm_cfg=dict(type="BN3d", requires_grad=True, eps=1e-3),
                        act_cfg=dict(type="ReLU"), conv1_kernel=(3, 7, 7), conv1_stride_t=1, pool1_stride_t=1,
                        inflate=(1, 1, 1, 1), spatial_strides=(1, 2, 2, 2), temporal_strides=(1, 2, 2, 2),
                        zero_init_residual=False)
        head = dict(head3d, in_channels=512)
    else:
        raise ConfigError(f"no MMAction2 config for {case.key}")
    return MmactionRecognizer(registry.build(backbone), registry.build(head), two_d=case.clip_len == 1)


# ---- the list, and what can be built here --------------------------------------------------------------------------

def implementations(case: BenchCase) -> list[Implementation]:
    """Other maintained implementations of the case's network, with a note on what was checked; `build` is None
    where a library has no implementation of this very network (the note says why)."""
    key = case.key
    out = []
    if key in ("tsn", "tsm"):
        out.append(Implementation(
            "torchvision", _build_torchvision,
            "torchvision.models.resnet50 (the same ResNet-50 v1.5) per frame + the MMAction2 "
            + ("TSM head and a temporal shift pre-hook on every bottleneck's conv1 (written here)" if key == "tsm"
               else "TSN head (feature consensus, written here)"),
            library_version("torchvision")))
    else:
        out.append(Implementation(
            "torchvision", None,
            "no same network: torchvision.models.video has r3d_18, mc3_18, r2plus1d_18 (18 layers, its own stem and "
            "mid-channel rule), s3d, mvit and swin3d; no ResNet-50 I3D/SlowOnly/SlowFast and no R(2+1)D-34"))
    if key.startswith(("i3d", "slowonly", "slowfast")):
        out.append(Implementation(
            "pytorchvideo", _build_pytorchvideo,
            "pytorchvideo's create_resnet/create_slowfast configured to MMAction2's network (stem, pools, inflation, "
            "laterals without BN/ReLU); global average head pool (nn.AdaptiveAvgPool3d, one of its options)",
            library_version("pytorchvideo")))
    else:
        out.append(Implementation(
            "pytorchvideo", None,
            "no same network: pytorchvideo has no 2D TSN/TSM ResNet and its R(2+1)D is the bottleneck R(2+1)D-50, "
            "not the BasicBlock R(2+1)D-34"))
    out.append(Implementation(
        "mmaction2", _build_mmaction2,
        "MMAction2 1.x backbone + head from its registry with the 2020 config arguments (called as its recognizer "
        "does; its data preprocessor, runner and hooks are not used)", library_version("mmaction")))
    return out


IMPLEMENTATIONS = {"torchvision": "torchvision", "pytorchvideo": "pytorchvideo", "mmaction2": "mmaction"}  # -> module
_INSTALL_HINTS = {"pytorchvideo": "pip install pytorchvideo (pure Python; pulls no torch)",
                  "mmaction2": "its PyPI wheel needs mmcv and mmengine: see `actionbook bench --help` for a side "
                               "install"}


def implementation_available(impl: Implementation) -> str | None:
    """None if `impl` can be built here, else why not."""
    if impl.build is None:
        return impl.note
    module = IMPLEMENTATIONS.get(impl.name)
    if module and importlib.util.find_spec(module) is None:
        return f"{impl.name} is not installed ({_INSTALL_HINTS.get(impl.name, '')})"
    return None


def same_network_check(model: nn.Module, ours_params: int, case: BenchCase, flops: dict) -> dict:
    """Parameter count and convolution multiply-adds of another implementation against this project's model."""
    out = {"params": sum(p.numel() for p in model.parameters()), "ours_params": ours_params,
           "ours_conv_macs": flops["forward_conv_macs"]}
    try:
        out["conv_macs"] = count_flops(model, case.input_shape)["conv_macs"]["total"]
    except Exception as err:  # a model the meta-device counter cannot run: say so, do not fail the benchmark
        out["conv_macs"] = None
        out["conv_macs_error"] = f"{type(err).__name__}: {err}"
    out["same"] = out["params"] == out["ours_params"] and out["conv_macs"] == out["ours_conv_macs"]
    return out
