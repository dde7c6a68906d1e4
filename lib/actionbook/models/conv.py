"""Convolutions that compute exactly what `nn.Conv2d` / `nn.Conv3d` compute, in a form PyTorch's CPU runs faster.

Four rewrites, all exact up to float rounding, with the same parameters and state-dict keys (issue 19):

- **Taps that only ever read padding are dropped.** A "same"-padded k x k conv on a map no larger than its padding
  (a 3x3 conv on the 1x1 maps of layer4 at the proxy's 32 px) multiplies every off-centre tap by zeros; its weight
  is sliced to the taps that can reach the map (a view: autograd gives the dropped taps zero gradient, as the full
  conv would). oneDNN's backward of a 3x3 conv on a 1x1 map took 5x the 1x1 conv's at batch 64.
- **A (kt, 1, 1) Conv3d runs as a (kt, 1) Conv2d** on the map seen as (N, C, T, H*W): PyTorch routes that kernel
  shape to a slower 3D path (the S3D and R(2+1)D temporal halves, and I3D's 3x3x3 convs once trimmed to 3x1x1). On
  T x 1 x 1 maps the batch goes into the image's width (`temporal_conv`).
- **A conv with one output position whose window covers the whole map is a matrix product** (`single_position`):
  layer4's 3x3 convs at the proxy's 32 px (on 1x1 maps, and the stride-2 one from 2x2 to 1x1), per frame for a
  spatial (1, k, k) Conv3d. The taps that read the map are gathered with `index_select` (whose backward scatters
  their gradient in one pass; slicing the weight cost two strided copies). Forward and backward of the stride-2
  conv and of a centre-tap one took 0.6x as long as oneDNN's.
- **A ResNet's front runs channels_last** (`run_front`): the stem (7x7 conv, batch norm, ReLU and max-pool on
  3-channel input) always, and on inputs of at most 64 px the first two stages with it; the map returns to the
  input's layout after them. oneDNN's channels_last 7x7 conv and PyTorch's channels_last max-pool are the fast ones
  there: the stem alone, forward and backward, took 0.6-0.8x as long at 32-112 px and the same at 224 px. layer1
  and layer2 (8x8 and 16x16 maps) took 0.81-0.89x as long channels_last at 32 and 64 px in the 2D ResNets and in
  S3D, but layer3 and layer4 (maps of 4x4 and less) 1.1-1.8x as long, as did every stage of I3D's 3x3x3 convs, and
  MMAction2's 3D ResNet-50s at 64 px and batch 1 gained nothing (SlowOnly's layer2 1.13x as long): the 3D networks
  whose spec says so (`ResNet3dSpec.channels_last_front`: IBM's S3D) take the stages along, the rest keep them in
  the input's layout (`measure.fastpath` turns a whole 2D network channels_last from 112 px).

`fast = False` (per instance; `fast_front = False` on the network) runs the plain formulation: the speed benchmark's
"today" path. The plain formulation also runs on meta tensors (our FLOP counters) and under a JIT trace (fvcore's
counter, TorchScript export: a trace must not bake in a trim chosen for one input size), so counts see the declared
kernels. mmcv's counter matches exact module types, so these classes name the type it should see in `counted_as`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def trim_padding_taps(weight: torch.Tensor, padding: tuple[int, ...], size: tuple[int, ...],
                      stride: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[torch.Tensor, tuple[int, ...]]:
    """(weight, padding) with the taps that read only zero padding sliced off, for every dimension where the conv is
    "same"-padded (odd kernel k, padding k // 2, stride and dilation 1) and the map is no larger than the padding."""
    taps, pads = [slice(None), slice(None)], []
    for n, k, p, s, d in zip(size, weight.shape[2:], padding, stride, dilation):
        cut = p - n + 1  # taps at each end that look at least n positions away from the output, i.e. off the map
        if s == 1 and d == 1 and 2 * p == k - 1 and cut > 0:
            taps.append(slice(cut, k - cut))
            pads.append(p - cut)
        else:
            taps.append(slice(None))
            pads.append(p)
    return weight[tuple(taps)], tuple(pads)


def _plain(conv: nn.Module, x: torch.Tensor) -> bool:
    """Whether `conv` must run as declared: switched off, counted (meta tensors, a JIT trace), or padding it cannot
    trim."""
    return (not conv.fast or x.is_meta or torch.jit.is_tracing() or isinstance(conv.padding, str)
            or conv.padding_mode != "zeros")


def single_position(conv: nn.Module, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                    spatial: int) -> torch.Tensor | None:
    """conv(x) as a matrix product when, in its last `spatial` dimensions, the conv has one output position whose
    window covers the whole map (any leading time dimension must have a kernel of 1 and no padding: it joins the
    batch); None where it does not."""
    time = x.dim() - 2 - spatial
    if conv.groups != 1 or any(d != 1 for d in conv.dilation) or (time and (weight.shape[2] != 1 or conv.padding[0])):
        return None
    taps = torch.zeros((), dtype=torch.long)
    for n, k, p, s in zip(x.shape[-spatial:], weight.shape[-spatial:], conv.padding[time:], conv.stride[time:]):
        if (n + 2 * p - k) // s != 0 or p + n > k:  # more than one output position, or a window short of the map
            return None
        taps = (taps.unsqueeze(-1) * k + torch.arange(p, p + n)).flatten()  # the taps that read the map, row-major
    kernel = weight.flatten(2).index_select(2, taps).flatten(1)  # (C_out, C_in * map positions)
    if not time:
        return F.linear(x.flatten(1), kernel, bias).view(x.shape[0], -1, *(1,) * spatial)
    frames = x[:, :, ::conv.stride[0]].transpose(1, 2)  # (N, T', C, H, W)
    y = F.linear(frames.reshape(-1, kernel.shape[1]), kernel, bias).view(x.shape[0], frames.shape[1], -1)
    return y.transpose(1, 2).contiguous().view(*y.shape[::2], y.shape[1], *(1,) * spatial)


class FastConv2d(nn.Conv2d):
    """`nn.Conv2d` that drops the kernel taps which only read padding, or runs as a matrix product where it has one
    output position (see the module docstring)."""

    counted_as = nn.Conv2d
    fast = True

    def _conv_forward(self, x, weight, bias):
        if _plain(self, x):
            return super()._conv_forward(x, weight, bias)
        product = single_position(self, x, weight, bias, spatial=2)
        if product is not None:
            return product
        weight, padding = trim_padding_taps(weight, self.padding, x.shape[2:], self.stride, self.dilation)
        return F.conv2d(x, weight, bias, self.stride, padding, self.dilation, self.groups)


class FastConv3d(nn.Conv3d):
    """`nn.Conv3d` that drops the kernel taps which only read padding, runs a (kt, 1, 1) kernel as a Conv2d over
    (N, C, T, H*W) and a spatial conv with one output position per frame as a matrix product (see the module
    docstring)."""

    counted_as = nn.Conv3d
    fast = True

    def _conv_forward(self, x, weight, bias):
        if _plain(self, x):
            return super()._conv_forward(x, weight, bias)
        product = single_position(self, x, weight, bias, spatial=2)
        if product is not None:
            return product
        weight, padding = trim_padding_taps(weight, self.padding, x.shape[2:], self.stride, self.dilation)
        pointwise_in_space = (weight.shape[3:] == (1, 1) and self.stride[1:] == (1, 1) and padding[1:] == (0, 0)
                              and self.dilation[1:] == (1, 1))
        if not pointwise_in_space:
            return F.conv3d(x, weight, bias, self.stride, padding, self.dilation, self.groups)
        return temporal_conv(x, weight.flatten(3), bias, self.stride[0], padding[0], self.dilation[0], self.groups)


def temporal_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int,
                  dilation: int, groups: int) -> torch.Tensor:
    """A (kt, 1, 1) Conv3d of (N, C, T, H, W) maps as the (kt, 1) Conv2d `weight`: over (N, C, T, H*W), or, on
    T x 1 x 1 maps, over one image (1, C, T, N) that holds the batch in its width. oneDNN's backward of the batched form
    on layer4's 8 x 1 x 1 maps (batch 8, 512 channels) took 1.4-1.6x as long as the folded one's; on layer3's 2 x 2
    maps the two were equal and on larger maps folding gained nothing."""
    n, c, t, h, w = x.shape
    if h * w != 1:
        y = F.conv2d(x.flatten(3), weight, bias, (stride, 1), (padding, 0), (dilation, 1), groups)
        return y.reshape(n, y.shape[1], y.shape[2], h, w)  # a view for contiguous and channels_last maps
    y = F.conv2d(x.reshape(n, c, t).permute(1, 2, 0).unsqueeze(0), weight, bias, (stride, 1), (padding, 0),
                 (dilation, 1), groups)  # (1, C_out, T_out, N)
    return y[0].permute(2, 0, 1).contiguous().view(n, y.shape[1], y.shape[2], 1, 1)


FRONT_STAGES_MAX_SIZE = 64  # input size (px) up to which the first two stages run channels_last with the stem


def run_front(x: torch.Tensor, stem: Callable[[torch.Tensor], torch.Tensor],
              stages: tuple[Callable[[torch.Tensor], torch.Tensor], ...], fast: bool) -> torch.Tensor:
    """`stem(x)` and then each of `stages`, the stem computed channels_last on the CPU and the stages with it on
    inputs of at most FRONT_STAGES_MAX_SIZE px, returned in x's layout (see the module docstring); all as they come
    where `fast` is off, x is channels_last already, not on the CPU (unmeasured elsewhere; meta tensors count FLOPs)
    or traced."""
    layout = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
    if not fast or x.device.type != "cpu" or torch.jit.is_tracing() or x.is_contiguous(memory_format=layout):
        joined, x = (), stem(x)
    else:
        joined = stages if x.shape[-1] <= FRONT_STAGES_MAX_SIZE else ()
        x = stem(x.contiguous(memory_format=layout))
        for stage in joined:
            x = stage(x)
        x = x.contiguous()
    for stage in stages[len(joined):]:
        x = stage(x)
    return x
