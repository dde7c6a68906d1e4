"""2D Inception-v1 applied frame by frame: IBM's TSN and TAM on BN-GoogLeNet (spec ibm-study.md 1.3, 2, 3).

The network is torchvision's `googlenet` without the auxiliary heads, with the same state-dict key names so that its
ImageNet weights load by name. TAM, when on, runs serially on the main path at 12 places (after conv1, conv2, conv3
and after every inception block), named tam1 ... tam5b. Temporal pooling halves T after maxpool2, 3 and 4.
All layers keep PyTorch's default init, as in the reference.
"""

from __future__ import annotations

import torch
from torch import nn

from actionbook.models.common import (
    IBM_OPTIONS,
    SegmentConsensusHead,
    TemporalFactory,
    TemporalPooling,
    check_clip,
    check_ibm_options,
    fold_time,
    frames_per_stage,
)
from actionbook.models.registry import INCEPTION_ENTRY, register
from actionbook.models.tam import TAM_OPTIONS, tam_factory

# block: (in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5" (a 3x3 in torchvision), pool proj)
INCEPTION_BLOCKS = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def block_out_channels(name: str) -> int:
    _, c1, _, c3, _, c5, pool_proj = INCEPTION_BLOCKS[name]
    return c1 + c3 + c5 + pool_proj


class BasicConv2d(nn.Module):
    """Conv (no bias) + BatchNorm (eps 0.001) + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches, concatenated: 1x1; 1x1 -> 3x3; 1x1 -> 3x3; 3x3 max pool -> 1x1."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, 1), BasicConv2d(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, 1), BasicConv2d(ch5x5red, ch5x5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class Inception2d(SegmentConsensusHead):
    """BN-Inception-v1 over the frames of a clip (N, 3, T, H, W) -> logits (N, num_classes).

    `tam` builds a TAM from (channels, frames) or is None (TSN); `temporal_pooling` is "none", "max" or "avg". The
    head classifies every remaining frame (dropout + FC) and averages the logits.
    """

    def __init__(self, num_classes: int, frames: int, *, tam: TemporalFactory | None = None,
                 temporal_pooling: str = "none", dropout: float = 0.5):
        super().__init__()
        self.frames = frames
        pooled = temporal_pooling != "none"
        stage_frames = frames_per_stage(frames, temporal_pooling)  # stem, inception3x, inception4x, inception5x

        def tam_or_identity(channels: int, stage: int) -> nn.Module:
            return nn.Identity() if tam is None else tam(channels, stage_frames[stage])

        def temporal_pool(stage: int) -> nn.Module:
            return TemporalPooling(stage_frames[stage], temporal_pooling) if pooled else nn.Identity()

        def add_block(name: str, stage: int) -> None:
            self.add_module(f"inception{name}", Inception(*INCEPTION_BLOCKS[name]))
            self.add_module(f"tam{name}", tam_or_identity(block_out_channels(name), stage))

        self.conv1 = BasicConv2d(3, 64, 7, stride=2, padding=3)
        self.tam1 = tam_or_identity(64, 0)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.tam2 = tam_or_identity(64, 0)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.tam3 = tam_or_identity(192, 0)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.t_pool1 = temporal_pool(0)
        for name in ("3a", "3b"):
            add_block(name, 1)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.t_pool2 = temporal_pool(1)
        for name in ("4a", "4b", "4c", "4d", "4e"):
            add_block(name, 2)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.t_pool3 = temporal_pool(2)
        for name in ("5a", "5b"):
            add_block(name, 3)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.add_head(1024, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self.frames)
        n = x.shape[0]
        x = fold_time(x)
        x = self.maxpool1(self.tam1(self.conv1(x)))
        x = self.tam2(self.conv2(x))
        x = self.tam3(self.conv3(x))
        x = self.t_pool1(self.maxpool2(x))
        x = self.tam3a(self.inception3a(x))
        x = self.tam3b(self.inception3b(x))
        x = self.t_pool2(self.maxpool3(x))
        x = self.tam4a(self.inception4a(x))
        x = self.tam4b(self.inception4b(x))
        x = self.tam4c(self.inception4c(x))
        x = self.tam4d(self.inception4d(x))
        x = self.tam4e(self.inception4e(x))
        x = self.t_pool3(self.maxpool4(x))
        x = self.tam5a(self.inception5a(x))
        x = self.tam5b(self.inception5b(x))
        return self.classify_segments(self.avgpool(x).flatten(1).view(n, -1, self.fc.in_features))  # (N, T', 1024)


def build_ibm_inception(num_classes: int, frames: int, *, name: str, tam: bool, temporal_pooling: str = "none",
                        dropout: float = 0.5, **tam_options) -> Inception2d:
    check_ibm_options(name, frames, temporal_pooling, dropout)
    return Inception2d(num_classes, frames, tam=tam_factory(**tam_options) if tam else None,
                       temporal_pooling=temporal_pooling, dropout=dropout)


@register("tsn_inception_v1", family="TSN", options=IBM_OPTIONS, **INCEPTION_ENTRY)
def tsn_inception_v1(num_classes: int, frames: int, **options) -> Inception2d:
    """TSN, Inception-v1 (BN-GoogLeNet): frames classified independently, logits averaged (IBM study)."""
    return build_ibm_inception(num_classes, frames, name="tsn_inception_v1", tam=False, **options)


@register("tam_inception_v1", family="TAM", options=IBM_OPTIONS + TAM_OPTIONS, **INCEPTION_ENTRY)
def tam_inception_v1(num_classes: int, frames: int, **options) -> Inception2d:
    """TAM-Inception-v1: a TAM after conv1-3 and after every inception block, 12 in all (IBM study)."""
    return build_ibm_inception(num_classes, frames, name="tam_inception_v1", tam=True, **options)
