"""I3D and S3D on Inception-v1 (torchvision's BN-GoogLeNet made 3D), as in IBM's study (spec ibm-study 4.1, 4.2).

Module names are torchvision's googlenet names (`conv1.conv.weight`, `inception3a.branch2.1.bn.*`, ...), so the
ImageNet weights inflate onto them by name; S3D's temporal convs are `conv_t` / `bn_t` and start random.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from actionbook.models.common import (
    IBM_OPTIONS,
    PaddedAvgPool3d,
    TemporalHead3d,
    check_clip,
    check_ibm_options,
    check_min_frames,
    kaiming_init,
)
from actionbook.models.inception2d import INCEPTION_BLOCKS
from actionbook.models.registry import INCEPTION_ENTRY, register
from actionbook.models.resnet3d import Split, conv_bn, run_conv_bn

BN_EPS = 1e-3  # torchvision's GoogLeNet
S3D_SPLIT = Split(bias=True, eps=BN_EPS)  # S3D's temporal convs carry a bias, and its BNs keep GoogLeNet's eps


class BasicConv3d(nn.Module):
    """Conv (no bias) -> BN -> ReLU; S3D splits it into conv 1xkxk -> bn -> ReLU -> conv_t kt x1x1 -> bn_t -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int], stride: tuple[int, int] = (1, 1),
                 split: Split | None = None):
        super().__init__()
        self.conv, self.bn, self.conv_t, self.bn_t = conv_bn(cin, cout, kernel, stride, split=split, eps=BN_EPS)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(run_conv_bn(x, self.conv, self.bn, self.conv_t, self.bn_t, self.relu))


class Inception3d(nn.Module):
    """Four branches concatenated: 1x1x1; 1x1x1 -> 3x3x3; 1x1x1 -> 3x3x3; max-pool 3x3x3 -> 1x1x1."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool_proj: int,
                 split: Split | None):
        super().__init__()
        self.branch1 = BasicConv3d(cin, c1, (1, 1))
        self.branch2 = nn.Sequential(BasicConv3d(cin, c3r, (1, 1)), BasicConv3d(c3r, c3, (3, 3), split=split))
        self.branch3 = nn.Sequential(BasicConv3d(cin, c5r, (1, 1)), BasicConv3d(c5r, c5, (3, 3), split=split))
        self.branch4 = nn.Sequential(nn.MaxPool3d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv3d(cin, pool_proj, (1, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionV1_3d(nn.Module):
    """I3D (all convs 3D, 7x7x7 stem) or S3D (3x7x7 stem; conv3 and every branch 3x3 split 1x3x3 + 3x1x1).

    The pools before inception3a, 4a and 5a stride T by 2 with temporal pooling. The pool before 5a is 3x3x3 pad 1
    (I3D) or 2x2x2 without padding (S3D, and I3D's legacy layout): the latter leaves T-1 frames without pooling.
    """

    keep_random = (r"^head\.", r"\.(conv|bn)_t\.")  # no 2D counterpart: the FC and S3D's temporal convs

    def __init__(self, num_classes: int, frames: int, stem_kt: int, split: Split | None, temporal_pooling: str,
                 dropout: float, pool5_2x2x2: bool):
        super().__init__()
        self.frames = frames
        ts = 1 if temporal_pooling == "none" else 2
        pool = PaddedAvgPool3d if temporal_pooling == "avg" else nn.MaxPool3d  # all four pools follow the method
        self.conv1 = BasicConv3d(3, 64, (stem_kt, 7), (1, 2))
        self.maxpool1 = pool((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.conv2 = BasicConv3d(64, 64, (1, 1))
        self.conv3 = BasicConv3d(64, 192, (3, 3), split=split)
        self.maxpool2 = pool(3, (ts, 2, 2), 1)
        self.inception3a, self.inception3b = (Inception3d(*INCEPTION_BLOCKS[b], split) for b in ("3a", "3b"))
        self.maxpool3 = pool(3, (ts, 2, 2), 1)
        self.inception4a, self.inception4b, self.inception4c, self.inception4d, self.inception4e = (
            Inception3d(*INCEPTION_BLOCKS[b], split) for b in ("4a", "4b", "4c", "4d", "4e"))
        self.maxpool4 = pool(2, (ts, 2, 2), 0) if pool5_2x2x2 else pool(3, (ts, 2, 2), 1)
        self.inception5a, self.inception5b = (Inception3d(*INCEPTION_BLOCKS[b], split) for b in ("5a", "5b"))
        self.head = TemporalHead3d(1024, num_classes, dropout)
        kaiming_init(self, fc_std=0.001)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for block in (self.inception4a, self.inception4b, self.inception4c, self.inception4d, self.inception4e):
            x = block(x)
        x = self.maxpool4(x)
        return self.inception5b(self.inception5a(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self.frames)
        return self.head(self.features(x))


def check_options(name: str, frames: int, temporal_pooling: str, dropout: float, pool5_2x2x2: bool) -> None:
    check_ibm_options(name, frames, temporal_pooling, dropout,
                      "temporal pooling halves T before inception3a, 4a and 5a")
    if temporal_pooling == "none" and pool5_2x2x2:
        check_min_frames(name, frames, 2, "the 2x2x2 pool before inception5a takes T to T-1")


@register("i3d", family="I3D", options=IBM_OPTIONS + ("legacy_pool5",), inflation="repeat", **INCEPTION_ENTRY)
def i3d(num_classes: int, frames: int, temporal_pooling: str = "none", dropout: float = 0.5,
        legacy_pool5: bool = False) -> InceptionV1_3d:
    """IBM I3D (`i3d_v2`): GoogLeNet with every conv 3D (7x7x7 stem, 3x3x3 elsewhere). legacy_pool5 restores the
    2x2x2 pool before inception5a that some published I3D rows were counted with (spec 8.3)."""
    check_options("i3d", frames, temporal_pooling, dropout, legacy_pool5)
    return InceptionV1_3d(num_classes, frames, 7, None, temporal_pooling, dropout, pool5_2x2x2=legacy_pool5)


@register("s3d", family="S3D", options=IBM_OPTIONS + ("dw_t_conv",), inflation="repeat", **INCEPTION_ENTRY)
def s3d(num_classes: int, frames: int, temporal_pooling: str = "none", dropout: float = 0.5,
        dw_t_conv: bool = False) -> InceptionV1_3d:
    """IBM S3D: GoogLeNet with a 3x7x7 stem and every 3x3 split into 1x3x3 + 3x1x1 (with bias; depthwise with
    dw_t_conv); 2x2x2 pool before inception5a."""
    check_options("s3d", frames, temporal_pooling, dropout, True)
    split = replace(S3D_SPLIT, depthwise=dw_t_conv)
    return InceptionV1_3d(num_classes, frames, 3, split, temporal_pooling, dropout, pool5_2x2x2=True)
