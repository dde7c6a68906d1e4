"""Convolutions that compute exactly what `nn.Conv2d` / `nn.Conv3d` compute, in a form PyTorch's CPU runs faster.

Three rewrites, all exact up to float rounding, with the same parameters and state-dict keys (issue 19):

- **Taps that only ever read padding are dropped.** A "same"-padded k x k conv on a map no larger than its padding
  (a 3x3 conv on the 1x1 maps of layer4 at the proxy's 32 px) multiplies every off-centre tap by zeros; its weight
  is sliced to the taps that can reach the map (a view: autograd gives the dropped taps zero gradient, as the full
  conv would). oneDNN's backward of a 3x3 conv on a 1x1 map took 5x the 1x1 conv's at batch 64.
- **A (kt, 1, 1) Conv3d runs as a (kt, 1) Conv2d** on the map seen as (N, C, T, H*W): PyTorch routes that kernel
  shape to a slower 3D path (the S3D and R(2+1)D temporal halves, and I3D's 3x3x3 convs once trimmed to 3x1x1).

- **A ResNet's stem runs channels_last** (`run_stem`): its 7x7 conv, batch norm, ReLU and max-pool on 3-channel
  input, back to the input's layout after the pool. oneDNN's channels_last 7x7 conv and PyTorch's channels_last
  max-pool are the fast ones there: the stem alone, forward and backward, took 0.6-0.8x as long at 32-112 px and
  the same at 224 px; whole proxy steps took 0.92x (tsn_r18), 0.87x (tam_r18), 0.89x (i3d_r18) and 0.90x (s3d_r18),
  interleaved. The blocks after it stay as they were (channels_last slows them at small sizes: `measure.fastpath`).

`fast = False` (per instance; `fast_stem = False` on the network) runs the plain formulation: the speed benchmark's
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


class FastConv2d(nn.Conv2d):
    """`nn.Conv2d` that drops the kernel taps which only read padding (see the module docstring)."""

    counted_as = nn.Conv2d
    fast = True

    def _conv_forward(self, x, weight, bias):
        if _plain(self, x):
            return super()._conv_forward(x, weight, bias)
        weight, padding = trim_padding_taps(weight, self.padding, x.shape[2:], self.stride, self.dilation)
        return F.conv2d(x, weight, bias, self.stride, padding, self.dilation, self.groups)


class FastConv3d(nn.Conv3d):
    """`nn.Conv3d` that drops the kernel taps which only read padding and runs a (kt, 1, 1) kernel as a Conv2d over
    (N, C, T, H*W) (see the module docstring)."""

    counted_as = nn.Conv3d
    fast = True

    def _conv_forward(self, x, weight, bias):
        if _plain(self, x):
            return super()._conv_forward(x, weight, bias)
        weight, padding = trim_padding_taps(weight, self.padding, x.shape[2:], self.stride, self.dilation)
        pointwise_in_space = (weight.shape[3:] == (1, 1) and self.stride[1:] == (1, 1) and padding[1:] == (0, 0)
                              and self.dilation[1:] == (1, 1))
        if not pointwise_in_space:
            return F.conv3d(x, weight, bias, self.stride, padding, self.dilation, self.groups)
        n, _, _, h, w = x.shape
        y = F.conv2d(x.flatten(3), weight.flatten(3), bias, self.stride[:1] + (1,), padding[:1] + (0,),
                     self.dilation[:1] + (1,), self.groups)
        return y.reshape(n, y.shape[1], y.shape[2], h, w)  # a view for contiguous and channels_last maps


def run_stem(stem: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, fast: bool) -> torch.Tensor:
    """`stem(x)` computed channels_last on the CPU and returned in x's layout (see the module docstring); as it is
    where `fast` is off, x is channels_last already, not on the CPU (unmeasured elsewhere; meta tensors count FLOPs)
    or traced."""
    layout = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
    if not fast or x.device.type != "cpu" or torch.jit.is_tracing() or x.is_contiguous(memory_format=layout):
        return stem(x)
    return stem(x.contiguous(memory_format=layout)).contiguous()

