"""One generic 3D ResNet, configured per model: IBM's I3D-ResNet and S3D-ResNet, MMAction2's I3D-R50 (and its
"heavy" variant), SlowOnly-R50, R(2+1)D-R34, and the two pathways of SlowFast (built in slowfast.py).

What differs between these models is only *which kernel each conv gets* and *whether a conv is split* into a spatial
1 x k x k conv and a temporal kt x 1 x 1 conv; the blocks are the torchvision ones, with the same module names
(`conv1.weight`, `bn1.*`, `layer1.0.conv2.weight`, `layer1.0.downsample.0.weight`, ...), so that 2D ImageNet
weights map onto them by name (pretrained.py). The temporal half of a split conv is named `<conv>_t` / `<bn>_t`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from actionbook.models.common import (
    IBM_OPTIONS,
    PooledHead,
    ReferenceSyncBatchNorm3d,
    TemporalHead3d,
    check_clip,
    check_ibm_options,
    check_min_frames,
    kaiming_init,
)
from actionbook.models.conv import FastConv3d, run_front
from actionbook.models.registry import MMACTION_ENTRY, PYSLOWFAST_ENTRY, register


@dataclass(frozen=True)
class Split:
    """How a kt x k x k conv is factorised: 1 x k x k conv (spatial stride) -> BN -> ReLU -> kt x 1 x 1 conv
    (temporal stride) -> the conv's own BN. The spatial half carries the 2D name and takes the 2D weights.

    widen: R(2+1)D's mid width M = floor(3 k^2 C_in C_out / (k^2 C_in + 3 C_out)) (the 3 is hard-coded upstream,
    whatever kt is), which keeps the pair near the full conv's size; otherwise M = C_out (S3D: no widening).
    """

    widen: bool = False
    depthwise: bool = False  # IBM's dw_t_conv: the temporal conv is depthwise
    bias: bool = False  # S3D-Inception's temporal convs carry a bias
    eps: float = 1e-5  # eps of the BN between the halves


S3D = Split()
R2PLUS1D = Split(widen=True)


def conv_bn(cin: int, cout: int, kernel: tuple[int, int], stride: tuple[int, int] = (1, 1), *,
            split: Split | None = None, eps: float = 1e-5, norm: type[nn.BatchNorm3d] = nn.BatchNorm3d):
    """The layers of one conv followed by its BN, as (conv, bn, conv_t, bn_t); conv_t and bn_t are None unless split.

    kernel = (kt, k) and stride = (temporal, spatial); padding keeps sizes ("same" for odd kernels).
    """
    (kt, k), (st, s) = kernel, stride
    if split is None:
        conv = FastConv3d(cin, cout, (kt, k, k), (st, s, s), (kt // 2, k // 2, k // 2), bias=False)
        return conv, norm(cout, eps=eps), None, None
    mid = 3 * k * k * cin * cout // (k * k * cin + 3 * cout) if split.widen else cout
    conv = FastConv3d(cin, mid, (1, k, k), (1, s, s), (0, k // 2, k // 2), bias=False)
    conv_t = FastConv3d(mid, cout, (kt, 1, 1), (st, 1, 1), (kt // 2, 0, 0), bias=split.bias,
                       groups=mid if split.depthwise else 1)
    return conv, nn.BatchNorm3d(mid, eps=split.eps), conv_t, norm(cout, eps=eps)


def run_conv_bn(x, conv, bn, conv_t, bn_t, relu):
    """Forward of `conv_bn`'s layers (no activation after the last BN)."""
    x = bn(conv(x))
    if conv_t is not None:
        x = bn_t(conv_t(relu(x)))
    return x


def as_sequential(layers) -> nn.Sequential:
    """`conv_bn`'s layers as one module (shortcut projections: keys `downsample.0.weight`, `downsample.1.*`)."""
    conv, bn, conv_t, bn_t = layers
    return nn.Sequential(conv, bn) if conv_t is None else nn.Sequential(conv, bn, nn.ReLU(inplace=True), conv_t, bn_t)


class BasicBlock3d(nn.Module):
    """conv1 (k=3, carries the stride) -> BN -> ReLU -> conv2 (k=3) -> BN; + shortcut; ReLU."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: tuple[int, int], kt: tuple[int, int], make_conv,
                 downsample: nn.Module | None):
        super().__init__()
        self.conv1, self.bn1, self.conv1_t, self.bn1_t = make_conv(inplanes, planes, (kt[0], 3), stride)
        self.conv2, self.bn2, self.conv2_t, self.bn2_t = make_conv(planes, planes, (kt[1], 3))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def last_bn(self) -> nn.BatchNorm3d:
        return self.bn2_t if self.bn2_t is not None else self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(run_conv_bn(x, self.conv1, self.bn1, self.conv1_t, self.bn1_t, self.relu))
        out = run_conv_bn(out, self.conv2, self.bn2, self.conv2_t, self.bn2_t, self.relu)
        return self.relu(out + identity)


class Bottleneck3d(nn.Module):
    """conv1 (k=1) -> BN -> ReLU -> conv2 (k=3, carries the stride) -> BN -> ReLU -> conv3 (1x1x1, x4) -> BN;
    + shortcut; ReLU."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: tuple[int, int], kt: tuple[int, int], make_conv,
                 downsample: nn.Module | None):
        super().__init__()
        self.conv1, self.bn1, self.conv1_t, self.bn1_t = make_conv(inplanes, planes, (kt[0], 1))
        self.conv2, self.bn2, self.conv2_t, self.bn2_t = make_conv(planes, planes, (kt[1], 3), stride)
        self.conv3, self.bn3, self.conv3_t, self.bn3_t = make_conv(planes, planes * 4, (1, 1))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def last_bn(self) -> nn.BatchNorm3d:
        return self.bn3_t if self.bn3_t is not None else self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(run_conv_bn(x, self.conv1, self.bn1, self.conv1_t, self.bn1_t, self.relu))
        out = self.relu(run_conv_bn(out, self.conv2, self.bn2, self.conv2_t, self.bn2_t, self.relu))
        out = run_conv_bn(out, self.conv3, self.bn3, self.conv3_t, self.bn3_t, self.relu)
        return self.relu(out + identity)


DEPTHS = {
    18: (BasicBlock3d, (2, 2, 2, 2)),
    34: (BasicBlock3d, (3, 4, 6, 3)),
    50: (Bottleneck3d, (3, 4, 6, 3)),
    101: (Bottleneck3d, (3, 4, 23, 3)),
    152: (Bottleneck3d, (3, 8, 36, 3)),
}


@dataclass(frozen=True)
class ResNet3dSpec:
    """Everything that distinguishes one 3D ResNet from another.

    inflate: per stage, 1/0 for all/none of its blocks or a tuple with one 1/0 per block (MMAction2's notation).
    inflate_style: where an inflated block's temporal kernel goes. "3x3x3": the k=3 convs get kt=3 (I3D-ResNet,
    S3D-ResNet, R(2+1)D); "3x1x1": a bottleneck's conv1 gets kt=3 and conv2 stays 1x3x3 (MMAction2 I3D, SlowOnly,
    SlowFast). A basic block inflates both convs either way. Blocks not inflated are purely 2D (kt=1).
    split: how inflated convs are factorised (None: full kt x k x k convs). split_everywhere: also split the stem
    and the 1x1x1 shortcut projections (MMAction2's R(2+1)D uses Conv2plus1d as the conv type of the whole net).
    channels_last_front: layer1 and layer2 join the stem channels_last on small CPU inputs (`models.conv.run_front`),
    where that measured faster: IBM's S3D-ResNet (s3d_r18 at 32 px, batch 8), not I3D's 3x3x3 kernels nor
    MMAction2's ResNet-50s at 64 px and batch 1 (SlowOnly's layer2 took 1.13x as long).
    """

    depth: int
    base_channels: int = 64
    stem_kt: int = 3
    stem_stride_t: int = 1
    pool1_stride_t: int = 1
    pool2: bool = False  # MMAction2: a (2,1,1) max-pool with stride 2 after res2
    t_strides: tuple[int, int, int, int] = (1, 1, 1, 1)
    inflate: tuple = (1, 1, 1, 1)
    inflate_style: str = "3x3x3"
    split: Split | None = None
    split_everywhere: bool = False
    bn_eps: float = 1e-5
    bn_type: type[nn.BatchNorm3d] = nn.BatchNorm3d  # of the BN after each conv (pair); not the one inside a pair
    lateral_channels: tuple[int, int, int, int] = (0, 0, 0, 0)  # SlowFast: fast->slow channels fused before a stage
    channels_last_front: bool = False

    @property
    def out_channels(self) -> int:
        return self.base_channels * 8 * DEPTHS[self.depth][0].expansion

    def block_kt(self, block: type, inflated: bool) -> tuple[int, int]:
        if not inflated:
            return (1, 1)
        if block is BasicBlock3d:
            return (3, 3)
        return (3, 1) if self.inflate_style == "3x1x1" else (1, 3)


class ResNet3d(nn.Module):
    """Stem (conv1 kt x 7 x 7, max-pool 1x3x3), optional pool2, four stages, and an optional head.

    With `head=None` it is a backbone (a SlowFast pathway) whose `features` returns the last map. `fast_front`: the
    stem runs channels_last on the CPU, and at small sizes layer1 and layer2 with it where the spec says so
    (`channels_last_front`; `models.conv.run_front`).
    """

    fast_front = True
    keep_random = (r"^head\.", r"_t\.")  # no 2D counterpart: the FC and the temporal halves of split convs

    def __init__(self, spec: ResNet3dSpec, head: nn.Module | None = None, frames: int | None = None):
        super().__init__()
        self.spec, self.frames = spec, frames
        block, counts = DEPTHS[spec.depth]
        split_outer = spec.split if spec.split_everywhere else None

        def make_conv(cin, cout, kernel, stride=(1, 1), in_block=True):
            """Block convs with a temporal kernel are split per spec.split; the stem, the shortcuts and 2D convs only
            with split_everywhere."""
            inflated = in_block and kernel[0] > 1
            return conv_bn(cin, cout, kernel, stride, split=spec.split if inflated else split_outer, eps=spec.bn_eps,
                           norm=spec.bn_type)

        c = spec.base_channels
        self.conv1, self.bn1, self.conv1_t, self.bn1_t = make_conv(3, c, (spec.stem_kt, 7), (spec.stem_stride_t, 2),
                                                                   in_block=False)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d((1, 3, 3), (spec.pool1_stride_t, 2, 2), (0, 1, 1))
        self.pool2 = nn.MaxPool3d((2, 1, 1), (2, 1, 1)) if spec.pool2 else None
        inplanes = c
        for i, n in enumerate(counts):
            planes = c * 2**i
            inflate = spec.inflate[i] if isinstance(spec.inflate[i], tuple) else (spec.inflate[i],) * n
            if len(inflate) != n:
                raise ValueError(f"inflate pattern {inflate} of stage {i + 1} does not have {n} entries")
            stride = (spec.t_strides[i], 1 if i == 0 else 2)
            blocks = []
            for j in range(n):
                cin = inplanes + (spec.lateral_channels[i] if j == 0 else 0)
                s = stride if j == 0 else (1, 1)
                downsample = None
                if j == 0 and (s != (1, 1) or cin != planes * block.expansion):
                    downsample = as_sequential(make_conv(cin, planes * block.expansion, (1, 1), s, in_block=False))
                blocks.append(block(cin, planes, s, spec.block_kt(block, bool(inflate[j])), make_conv, downsample))
                inplanes = planes * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.head = head

    def stages(self) -> list[nn.Sequential]:
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return run_front(x, self._stem, (), self.fast_front)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        x = run_conv_bn(x, self.conv1, self.bn1, self.conv1_t, self.bn1_t, self.relu)
        return self.maxpool(self.relu(x))

    def _stage1(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(x)
        return x if self.pool2 is None else self.pool2(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        front = (self._stage1, self.layer2) if self.spec.channels_last_front else ()
        x = run_front(x, self._stem, front, self.fast_front)
        if not front:
            x = self.layer2(self._stage1(x))
        return self.layer4(self.layer3(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self.frames)
        return self.head(self.features(x))


def zero_init_residual(model: nn.Module) -> None:
    """Start every block's last BN at 0, so that each residual branch starts as the identity (MMAction2's SlowOnly and
    SlowFast default)."""
    for m in model.modules():
        if isinstance(m, BasicBlock3d | Bottleneck3d):
            nn.init.zeros_(m.last_bn.weight)


# ---------------------------------------------------------------------------------------------------------------
# IBM: I3D-ResNet and S3D-ResNet (spec ibm-study 4.3, 4.4)

def build_ibm_resnet3d(num_classes: int, frames: int, *, name: str, depth: int, split: bool,
                       temporal_pooling: str = "none", dropout: float = 0.5, dw_t_conv: bool = False) -> ResNet3d:
    """An IBM 3D ResNet (I3D, or S3D when `split`); temporal_pooling != 'none' strides T by 2 in the first block of
    layer2/3/4 (conv and shortcut)."""
    check_ibm_options(name, frames, temporal_pooling, dropout,
                      "temporal striding halves T in layer2, layer3 and layer4")
    ts = 1 if temporal_pooling == "none" else 2
    spec = ResNet3dSpec(depth, t_strides=(1, ts, ts, ts), split=replace(S3D, depthwise=dw_t_conv) if split else None,
                        channels_last_front=split)
    model = ResNet3d(spec, TemporalHead3d(spec.out_channels, num_classes, dropout), frames)
    kaiming_init(model, fc_std=0.001)
    return model


@register("i3d_r18", family="I3D", backbone="resnet-18", options=IBM_OPTIONS, imagenet="resnet18",
          inflation="repeat")
def i3d_r18(num_classes: int, frames: int, **options) -> ResNet3d:
    """IBM I3D-ResNet-18: 3x7x7 stem, every 3x3 inflated to 3x3x3."""
    return build_ibm_resnet3d(num_classes, frames, name="i3d_r18", depth=18, split=False, **options)


@register("i3d_r34", family="I3D", backbone="resnet-34", options=IBM_OPTIONS, imagenet="resnet34",
          inflation="repeat")
def i3d_r34(num_classes: int, frames: int, **options) -> ResNet3d:
    """IBM I3D-ResNet-34: 3x7x7 stem, every 3x3 inflated to 3x3x3."""
    return build_ibm_resnet3d(num_classes, frames, name="i3d_r34", depth=34, split=False, **options)


@register("i3d_r50", family="I3D", backbone="resnet-50", options=IBM_OPTIONS, imagenet="resnet50",
          inflation="repeat")
def i3d_r50(num_classes: int, frames: int, **options) -> ResNet3d:
    """IBM I3D-ResNet-50: 3x7x7 stem, every 3x3 inflated to 3x3x3."""
    return build_ibm_resnet3d(num_classes, frames, name="i3d_r50", depth=50, split=False, **options)


@register("i3d_r101", family="I3D", backbone="resnet-101", options=IBM_OPTIONS, imagenet="resnet101",
          inflation="repeat")
def i3d_r101(num_classes: int, frames: int, **options) -> ResNet3d:
    """IBM I3D-ResNet-101: 3x7x7 stem, every 3x3 inflated to 3x3x3."""
    return build_ibm_resnet3d(num_classes, frames, name="i3d_r101", depth=101, split=False, **options)


@register("i3d_r152", family="I3D", backbone="resnet-152", options=IBM_OPTIONS, imagenet="resnet152",
          inflation="repeat")
def i3d_r152(num_classes: int, frames: int, **options) -> ResNet3d:
    """IBM I3D-ResNet-152: 3x7x7 stem, every 3x3 inflated to 3x3x3."""
    return build_ibm_resnet3d(num_classes, frames, name="i3d_r152", depth=152, split=False, **options)


@register("s3d_r18", family="S3D", backbone="resnet-18", options=IBM_OPTIONS + ("dw_t_conv",), imagenet="resnet18",
          inflation="repeat")
def s3d_r18(num_classes: int, frames: int, **options) -> ResNet3d:
    """IBM S3D-ResNet-18: 3x7x7 stem, every 3x3 split into 1x3x3 + 3x1x1 of the same width."""
    return build_ibm_resnet3d(num_classes, frames, name="s3d_r18", depth=18, split=True, **options)


@register("s3d_r34", family="S3D", backbone="resnet-34", options=IBM_OPTIONS + ("dw_t_conv",), imagenet="resnet34",
          inflation="repeat")
def s3d_r34(num_classes: int, frames: int, **options) -> ResNet3d:
    """IBM S3D-ResNet-34: 3x7x7 stem, every 3x3 split into 1x3x3 + 3x1x1 of the same width."""
    return build_ibm_resnet3d(num_classes, frames, name="s3d_r34", depth=34, split=True, **options)


@register("s3d_r50", family="S3D", backbone="resnet-50", options=IBM_OPTIONS + ("dw_t_conv",), imagenet="resnet50",
          inflation="repeat")
def s3d_r50(num_classes: int, frames: int, **options) -> ResNet3d:
    """IBM S3D-ResNet-50: 3x7x7 stem, every 3x3 split into 1x3x3 + 3x1x1 of the same width."""
    return build_ibm_resnet3d(num_classes, frames, name="s3d_r50", depth=50, split=True, **options)


@register("s3d_r101", family="S3D", backbone="resnet-101", options=IBM_OPTIONS + ("dw_t_conv",), imagenet="resnet101",
          inflation="repeat")
def s3d_r101(num_classes: int, frames: int, **options) -> ResNet3d:
    """IBM S3D-ResNet-101: 3x7x7 stem, every 3x3 split into 1x3x3 + 3x1x1 of the same width."""
    return build_ibm_resnet3d(num_classes, frames, name="s3d_r101", depth=101, split=True, **options)


@register("s3d_r152", family="S3D", backbone="resnet-152", options=IBM_OPTIONS + ("dw_t_conv",), imagenet="resnet152",
          inflation="repeat")
def s3d_r152(num_classes: int, frames: int, **options) -> ResNet3d:
    """IBM S3D-ResNet-152: 3x7x7 stem, every 3x3 split into 1x3x3 + 3x1x1 of the same width."""
    return build_ibm_resnet3d(num_classes, frames, name="s3d_r152", depth=152, split=True, **options)


# ---------------------------------------------------------------------------------------------------------------
# MMAction2: I3D-R50 (+ heavy), SlowOnly-R50, R(2+1)D-R34 (spec mmaction-benchmark 1.2, 1.4, 1.6)

MMACTION_RESNET3D = {
    # I3D-R50 32x2x1: 5x7x7 stem and pool1 with temporal stride 2, pool2: 32 -> 16 -> 8 -> 4.
    "i3d_r50": ResNet3dSpec(50, stem_kt=5, stem_stride_t=2, pool1_stride_t=2, pool2=True,
                            inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0)), inflate_style="3x1x1"),
    # Heavy: every bottleneck inflated, no temporal stride before pool2 (T halves once).
    "i3d_r50_heavy": ResNet3dSpec(50, stem_kt=5, pool2=True, inflate_style="3x1x1"),
    # SlowOnly (= SlowFast's slow pathway without laterals): 1x7x7 stem, res4/res5 inflated, T constant.
    "slowonly_r50": ResNet3dSpec(50, stem_kt=1, inflate=(0, 0, 1, 1), inflate_style="3x1x1"),
    # R(2+1)D: every conv (stem and shortcuts too) is a (2+1)D pair; T halves in res3, res4, res5.
    # The BN after each pair was SyncBN upstream (the one inside a pair plain BN, eps 1e-5).
    "r2plus1d_r34": ResNet3dSpec(34, t_strides=(1, 2, 2, 2), split=R2PLUS1D, split_everywhere=True, bn_eps=1e-3,
                                 bn_type=ReferenceSyncBatchNorm3d),
}


def build_mmaction_resnet3d(key: str, num_classes: int, frames: int, zero_residuals: bool) -> ResNet3d:
    spec = MMACTION_RESNET3D[key]
    model = ResNet3d(spec, PooledHead(spec.out_channels, num_classes), frames)
    kaiming_init(model, fc_std=0.01)
    if zero_residuals:
        zero_init_residual(model)
    return model


@register("mmaction_i3d_r50", family="I3D", backbone="resnet-50", imagenet="resnet50", inflation="mean",
          **MMACTION_ENTRY)
def mmaction_i3d_r50(num_classes: int, frames: int) -> ResNet3d:
    """MMAction2 I3D-R50 (32x2x1): 5x7x7 stem (stride 2 in T), 3x1x1-inflated alternate bottlenecks, pool2;
    ImageNet kernels inflated as copy / k_t."""
    check_min_frames("mmaction_i3d_r50", frames, 5, "conv1, pool1 and pool2 each halve T")
    return build_mmaction_resnet3d("i3d_r50", num_classes, frames, zero_residuals=False)


@register("mmaction_i3d_r50_heavy", family="I3D", backbone="resnet-50", imagenet="resnet50", inflation="mean",
          **MMACTION_ENTRY)
def mmaction_i3d_r50_heavy(num_classes: int, frames: int) -> ResNet3d:
    """MMAction2 "heavy" I3D-R50: all 16 bottlenecks 3x1x1-inflated, no temporal stride before pool2."""
    check_min_frames("mmaction_i3d_r50_heavy", frames, 2, "pool2 halves T")
    return build_mmaction_resnet3d("i3d_r50_heavy", num_classes, frames, zero_residuals=False)


@register("mmaction_slowonly_r50", family="SlowOnly", backbone="resnet-50", **MMACTION_ENTRY)
def mmaction_slowonly_r50(num_classes: int, frames: int) -> ResNet3d:
    """MMAction2 SlowOnly-R50 (4x16x1 / 8x8x1 by the frame count): 1x7x7 stem, res4/res5 3x1x1-inflated, T constant;
    trained from scratch with zero-initialised residual branches."""
    return build_mmaction_resnet3d("slowonly_r50", num_classes, frames, zero_residuals=True)


@register("mmaction_r2plus1d_r34", family="R(2+1)D", backbone="resnet-34", **MMACTION_ENTRY)
def mmaction_r2plus1d_r34(num_classes: int, frames: int) -> ResNet3d:
    """MMAction2 R(2+1)D-R34: every conv a 1xkxk -> M -> kx1x1 pair (factorised shortcuts too), BN eps 1e-3 after
    each pair (SyncBN upstream), T halved in res3-res5; trained from scratch."""
    return build_mmaction_resnet3d("r2plus1d_r34", num_classes, frames, zero_residuals=False)


# ---------------------------------------------------------------------------------------------------------------
# PySlowFast: I3D-R50 8x8 (for its released weights; the same tensors as MMAction2's I3D-R50, other strides)

@register("pyslowfast_i3d_r50", family="I3D", backbone="resnet-50", **PYSLOWFAST_ENTRY)
def pyslowfast_i3d_r50(num_classes: int, frames: int) -> ResNet3d:
    """PySlowFast I3D-R50 (I3D_8x8_R50): MMAction2's I3D-R50 inflation and pool2, but no temporal stride in the stem
    or its pool (T halves once, at pool2). Its weights also load into mmaction_i3d_r50, which computes differently."""
    check_min_frames("pyslowfast_i3d_r50", frames, 2, "pool2 halves T")
    spec = replace(MMACTION_RESNET3D["i3d_r50"], stem_stride_t=1, pool1_stride_t=1)
    model = ResNet3d(spec, PooledHead(spec.out_channels, num_classes), frames)
    kaiming_init(model, fc_std=0.01)
    return model
