"""2D ResNets applied frame by frame: IBM's TSN and TAM (spec ibm-study.md 1.2, 2, 3), MMAction2's TSN and TSM.

The network is torchvision's ResNet "v1.5" (stride on the 3x3 conv), with the same state-dict key names so that
torchvision ImageNet weights load by name. Video enters as (N, 3, T, H, W) and is folded into a batch of N*T images;
two optional additions make it temporal:

* a *temporal module* at the start of every block's residual branch, seen only by the branch, never by the shortcut
  (TAM, or TSM's parameter-free temporal shift), registered under the module's own name: layer1.0.tam.weight;
* temporal pooling after layer1, layer2 and layer3 (T -> T/2 -> T/4 -> T/8).

The head pools each frame, then either classifies every frame and averages the logits (IBM, TSM) or averages the
frames' features and classifies once (MMAction2's TSN).
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
    kaiming_init,
)
from actionbook.models.conv import FastConv2d, run_front
from actionbook.models.registry import MMACTION_ENTRY, register
from actionbook.models.tam import TAM_OPTIONS, tam_factory


class TemporalShift(nn.Module):
    """TSM's shift on a time-folded map (N*T, C, H, W): channels [0, C/d) take frame t+1, [C/d, 2C/d) take frame t-1,
    the rest stay; frames beyond the clip are zeros. No parameters, no MACs."""

    slot_name = "shift"

    def __init__(self, frames: int, shift_div: int = 8):
        super().__init__()
        self.frames = frames
        self.shift_div = shift_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        video = x.view(nt // self.frames, self.frames, c, h, w)
        fold = c // self.shift_div
        out = torch.zeros_like(video)
        out[:, :-1, :fold] = video[:, 1:, :fold]  # from the next frame
        out[:, 1:, fold:2 * fold] = video[:, :-1, fold:2 * fold]  # from the previous frame
        out[:, :, 2 * fold:] = video[:, :, 2 * fold:]
        return out.view(nt, c, h, w)

    def extra_repr(self) -> str:
        return f"frames={self.frames}, shift_div={self.shift_div}"


class ResidualBlock(nn.Module):
    """What BasicBlock and Bottleneck share: the temporal-module slot and the shortcut.

    The temporal module is registered under its `slot_name` ("tam", "shift") so state-dict keys say what it is. The
    shortcut (identity or downsample projection) takes the block input before the temporal module (IBM HEAD).
    """

    def __init__(self, downsample: nn.Module | None, temporal: nn.Module | None):
        super().__init__()
        self.downsample = downsample
        self.relu = nn.ReLU(inplace=True)
        self.temporal_slot = None if temporal is None else temporal.slot_name
        if temporal is not None:
            self.add_module(self.temporal_slot, temporal)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = x if self.temporal_slot is None else self.get_submodule(self.temporal_slot)(x)
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.residual(branch) + shortcut)


class BasicBlock(ResidualBlock):
    """Two 3x3 convs (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 temporal: nn.Module | None = None):
        super().__init__(downsample, temporal)
        self.conv1 = FastConv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = FastConv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(x))


class Bottleneck(ResidualBlock):
    """1x1 reduce, 3x3 (carries the stride, torchvision v1.5), 1x1 expand x4 (ResNet-50/101/152)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 temporal: nn.Module | None = None):
        super().__init__(downsample, temporal)
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = FastConv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.bn3(self.conv3(x))


RESNET_LAYOUTS: dict[int, tuple[type[ResidualBlock], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNet2d(SegmentConsensusHead):
    """A 2D ResNet over the frames of a clip (N, 3, T, H, W) -> logits (N, num_classes).

    `temporal` builds each block's temporal module; `temporal_pooling` ("none", "max", "avg") halves T after layer1,
    layer2 and layer3; `consensus` is where frames are averaged: "logits" (per-frame FC, then the mean) or
    "features" (mean of the pooled features, then one FC). `fc_std`: the FC's init (None: PyTorch's default).
    `fast_front`: the stem, and at small sizes layer1 and layer2, run channels_last on the CPU
    (`models.conv.run_front`).
    """

    fast_front = True

    def __init__(self, depth: int, num_classes: int, frames: int, *, temporal: TemporalFactory | None = None,
                 temporal_pooling: str = "none", dropout: float = 0.5, consensus: str = "logits",
                 fc_std: float | None = None):
        super().__init__()
        block, layers = RESNET_LAYOUTS[depth]
        self.frames = frames
        pooled = temporal_pooling != "none"
        stage_frames = frames_per_stage(frames, temporal_pooling)  # layer1 ... layer4

        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0], 1, stage_frames[0], temporal)
        self.layer2 = self._make_layer(block, 128, layers[1], 2, stage_frames[1], temporal)
        self.layer3 = self._make_layer(block, 256, layers[2], 2, stage_frames[2], temporal)
        self.layer4 = self._make_layer(block, 512, layers[3], 2, stage_frames[3], temporal)
        self.t_pool1, self.t_pool2, self.t_pool3 = (
            TemporalPooling(stage_frames[i], temporal_pooling) if pooled else nn.Identity() for i in range(3))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.add_head(512 * block.expansion, num_classes, dropout, consensus)
        kaiming_init(self, fc_std)

    def _make_layer(self, block: type[ResidualBlock], planes: int, blocks: int, stride: int, frames: int,
                    temporal: TemporalFactory | None) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = []
        for i in range(blocks):
            module = None if temporal is None else temporal(self.inplanes, frames)
            layers.append(block(self.inplanes, planes, stride if i == 0 else 1, downsample if i == 0 else None,
                                module))
            self.inplanes = planes * block.expansion
        return nn.Sequential(*layers)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self.frames)
        n = x.shape[0]
        front = (lambda x: self.t_pool1(self.layer1(x)), lambda x: self.t_pool2(self.layer2(x)))
        x = run_front(fold_time(x), self._stem, front, self.fast_front)
        x = self.t_pool3(self.layer3(x))
        x = self.layer4(x)
        return self.classify_segments(self.avgpool(x).flatten(1).view(n, -1, self.fc.in_features))  # (N, T', F)


# --- IBM: TSN and TAM on ResNet-18 ... 152 -------------------------------------------------------------------------

def build_ibm_resnet(num_classes: int, frames: int, *, name: str, depth: int, tam: bool,
                     temporal_pooling: str = "none", dropout: float = 0.5, **tam_options) -> ResNet2d:
    check_ibm_options(name, frames, temporal_pooling, dropout)
    return ResNet2d(depth, num_classes, frames, temporal=tam_factory(**tam_options) if tam else None,
                    temporal_pooling=temporal_pooling, dropout=dropout)


@register("tsn_r18", family="TSN", backbone="resnet-18", options=IBM_OPTIONS, imagenet="resnet18")
def tsn_r18(num_classes: int, frames: int, **options) -> ResNet2d:
    """TSN, ResNet-18: frames classified independently, logits averaged (IBM study)."""
    return build_ibm_resnet(num_classes, frames, name="tsn_r18", depth=18, tam=False, **options)


@register("tsn_r34", family="TSN", backbone="resnet-34", options=IBM_OPTIONS, imagenet="resnet34")
def tsn_r34(num_classes: int, frames: int, **options) -> ResNet2d:
    """TSN, ResNet-34: frames classified independently, logits averaged (IBM study)."""
    return build_ibm_resnet(num_classes, frames, name="tsn_r34", depth=34, tam=False, **options)


@register("tsn_r50", family="TSN", backbone="resnet-50", options=IBM_OPTIONS, imagenet="resnet50")
def tsn_r50(num_classes: int, frames: int, **options) -> ResNet2d:
    """TSN, ResNet-50: frames classified independently, logits averaged (IBM study)."""
    return build_ibm_resnet(num_classes, frames, name="tsn_r50", depth=50, tam=False, **options)


@register("tsn_r101", family="TSN", backbone="resnet-101", options=IBM_OPTIONS, imagenet="resnet101")
def tsn_r101(num_classes: int, frames: int, **options) -> ResNet2d:
    """TSN, ResNet-101: frames classified independently, logits averaged (IBM study)."""
    return build_ibm_resnet(num_classes, frames, name="tsn_r101", depth=101, tam=False, **options)


@register("tsn_r152", family="TSN", backbone="resnet-152", options=IBM_OPTIONS, imagenet="resnet152")
def tsn_r152(num_classes: int, frames: int, **options) -> ResNet2d:
    """TSN, ResNet-152: frames classified independently, logits averaged (IBM study)."""
    return build_ibm_resnet(num_classes, frames, name="tsn_r152", depth=152, tam=False, **options)


@register("tam_r18", family="TAM", backbone="resnet-18", options=IBM_OPTIONS + TAM_OPTIONS, imagenet="resnet18")
def tam_r18(num_classes: int, frames: int, **options) -> ResNet2d:
    """TAM-ResNet-18: a TAM at the start of every residual branch (IBM study)."""
    return build_ibm_resnet(num_classes, frames, name="tam_r18", depth=18, tam=True, **options)


@register("tam_r34", family="TAM", backbone="resnet-34", options=IBM_OPTIONS + TAM_OPTIONS, imagenet="resnet34")
def tam_r34(num_classes: int, frames: int, **options) -> ResNet2d:
    """TAM-ResNet-34: a TAM at the start of every residual branch (IBM study)."""
    return build_ibm_resnet(num_classes, frames, name="tam_r34", depth=34, tam=True, **options)


@register("tam_r50", family="TAM", backbone="resnet-50", options=IBM_OPTIONS + TAM_OPTIONS, imagenet="resnet50")
def tam_r50(num_classes: int, frames: int, **options) -> ResNet2d:
    """TAM-ResNet-50: a TAM at the start of every residual branch (IBM study)."""
    return build_ibm_resnet(num_classes, frames, name="tam_r50", depth=50, tam=True, **options)


@register("tam_r101", family="TAM", backbone="resnet-101", options=IBM_OPTIONS + TAM_OPTIONS, imagenet="resnet101")
def tam_r101(num_classes: int, frames: int, **options) -> ResNet2d:
    """TAM-ResNet-101: a TAM at the start of every residual branch (IBM study)."""
    return build_ibm_resnet(num_classes, frames, name="tam_r101", depth=101, tam=True, **options)


@register("tam_r152", family="TAM", backbone="resnet-152", options=IBM_OPTIONS + TAM_OPTIONS, imagenet="resnet152")
def tam_r152(num_classes: int, frames: int, **options) -> ResNet2d:
    """TAM-ResNet-152: a TAM at the start of every residual branch (IBM study)."""
    return build_ibm_resnet(num_classes, frames, name="tam_r152", depth=152, tam=True, **options)


# --- MMAction2: TSN-R50 and TSM-R50 (spec mmaction-benchmark.md 1.1, 1.3) -------------------------------------------

@register("mmaction_tsn_r50", family="TSN", backbone="resnet-50", imagenet="resnet50", **MMACTION_ENTRY)
def mmaction_tsn_r50(num_classes: int, frames: int) -> ResNet2d:
    """MMAction2's TSN-R50: segment features averaged before the FC; dropout 0.4; FC init std 0.01."""
    return ResNet2d(50, num_classes, frames, dropout=0.4, consensus="features", fc_std=0.01)


@register("mmaction_tsm_r50", family="TSM", backbone="resnet-50", imagenet="resnet50", **MMACTION_ENTRY)
def mmaction_tsm_r50(num_classes: int, frames: int) -> ResNet2d:
    """MMAction2's TSM-R50: temporal shift (1/8 forward, 1/8 backward) on every residual branch; logits averaged;
    dropout 0.5; FC init std 0.001."""
    return ResNet2d(50, num_classes, frames, temporal=lambda channels, stage_frames: TemporalShift(stage_frames, 8),
                    fc_std=0.001)
