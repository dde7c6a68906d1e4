"""TAM, the Temporal Aggregation Module of the IBM study (spec ibm-study.md, section 2).

TAM mixes each frame with its neighbours: y_t = ReLU(sum_i w_i * x_{t + i - B//2}) over B "blending frames", with
per-channel weights w_i (or full CxC 1x1 convolutions when `dw_conv=False`), computed per video, zero-padded at the
clip ends. With sum blending that is exactly a (B, 1, 1) temporal convolution followed by a ReLU, so TAM *is* a
Conv3d here: its weight keeps the Conv3d shape (C, C/groups, B, 1, 1) (state dicts and every counter that counts
Conv3d layers are unchanged: B*C*H*W MACs per frame). It runs as a Conv2d with a (B, 1) kernel on the map seen as
(N, C, T, H*W): the same arithmetic, but PyTorch's CPU routes a (B, 1, 1) Conv3d to its slow generic kernel with
pad/transpose copies, while the depthwise Conv2d is a fast native kernel (the TAM modules of a tam_r18 step measured
2.6x faster), and on a channels_last map the view is itself channels_last, so it costs no copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from actionbook.errors import ConfigError

BLENDING_METHODS = ("sum", "max")
TAM_OPTIONS = ("blending_frames", "blending_method", "dw_conv")  # the options a TAM model takes on top of IBM's


class TAM(nn.Conv3d):
    """Temporal aggregation over B neighbouring frames on a time-folded map (N*T, C, H, W) -> same shape.

    The weight has shape (C, C/groups, B, 1, 1); tap i looks at frame t + i - B//2. `blending_method="max"` takes
    the elementwise max of the B weighted, shifted maps instead of their sum (zero pads take part as zeros).
    """

    slot_name = "tam"  # the attribute name a ResNet block registers it under (state-dict keys "...tam.weight")
    formulation = "conv2d"  # or "conv3d": the literal, slower formulation (same numbers within float rounding)

    def __init__(self, channels: int, frames: int, blending_frames: int = 3, blending_method: str = "sum",
                 dw_conv: bool = True):
        check_tam_options(blending_frames, blending_method, dw_conv)
        super().__init__(channels, channels, kernel_size=(blending_frames, 1, 1), groups=channels if dw_conv else 1,
                         bias=False)
        self.frames = frames
        self.blending_method = blending_method

    def reset_parameters(self) -> None:
        """PyTorch's default conv init, drawn as if each tap were its own 1x1 Conv2d, as the reference builds it."""
        for tap in range(self.kernel_size[0]):
            nn.init.kaiming_uniform_(self.weight[:, :, tap], a=math.sqrt(5))

    def kaiming_init_(self) -> None:
        """ResNet's init (kaiming normal, fan_out, relu), again per tap: std sqrt(2/C) as in the reference."""
        for tap in range(self.kernel_size[0]):
            nn.init.kaiming_normal_(self.weight[:, :, tap], mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.formulation == "conv3d":
            return self._forward_conv3d(x)
        nt, c, h, w = x.shape
        blend = self.kernel_size[0]
        # (N*T, C, H, W) -> (N, C, T, H*W): frames on the conv's height axis, pixels on its width
        video = x.reshape(nt // self.frames, self.frames, c, h * w).transpose(1, 2)
        weight = self.weight.squeeze(-1)  # (C, C/groups, B, 1): the Conv3d weight as a Conv2d one, no copy
        # Zero frames before and after the clip, so that tap i of output frame t reads padded frame t + i.
        before, after = blend // 2, blend - 1 - blend // 2
        if self.blending_method == "sum" and before == after:
            y = F.conv2d(video, weight, padding=(before, 0), groups=self.groups)
        else:
            padded = F.pad(video, (0, 0, before, after))
            if self.blending_method == "sum":
                y = F.conv2d(padded, weight, groups=self.groups)
            else:
                taps = [F.conv2d(padded[:, :, i:i + self.frames], weight[:, :, i:i + 1], groups=self.groups)
                        for i in range(blend)]
                y = torch.stack(taps).amax(dim=0)
        return F.relu(y).transpose(1, 2).reshape(nt, c, h, w)

    def _forward_conv3d(self, x: torch.Tensor) -> torch.Tensor:
        """The literal formulation (a Conv3d on (N, C, T, H, W)): the reference the fast one is tested against and
        the speed benchmark's "today" path."""
        nt, c, h, w = x.shape
        blend = self.kernel_size[0]
        video = x.view(nt // self.frames, self.frames, c, h, w).transpose(1, 2)  # (N, C, T, H, W)
        padded = F.pad(video, (0, 0, 0, 0, blend // 2, blend - 1 - blend // 2))
        if self.blending_method == "sum":
            y = F.conv3d(padded, self.weight, groups=self.groups)
        else:
            taps = [F.conv3d(padded[:, :, i:i + self.frames], self.weight[:, :, i:i + 1], groups=self.groups)
                    for i in range(blend)]
            y = torch.stack(taps).amax(dim=0)
        return F.relu(y).transpose(1, 2).reshape(nt, c, h, w)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, frames={self.frames}, blending_method={self.blending_method!r}"


def tam_factory(blending_frames: int = 3, blending_method: str = "sum",
                dw_conv: bool = True) -> Callable[[int, int], TAM]:
    """(channels, frames) -> a TAM with these options: what a 2D network places at each of its TAM slots."""
    check_tam_options(blending_frames, blending_method, dw_conv)
    return partial(TAM, blending_frames=blending_frames, blending_method=blending_method, dw_conv=dw_conv)


def check_tam_options(blending_frames, blending_method, dw_conv) -> None:
    """Bad TAM options fail with one line naming the option, before any layer is built."""
    if not isinstance(blending_frames, int) or isinstance(blending_frames, bool) or blending_frames < 1:
        raise ConfigError(f"blending_frames must be a positive integer, got {blending_frames!r}")
    if blending_method not in BLENDING_METHODS:
        raise ConfigError(f"blending_method must be one of {', '.join(BLENDING_METHODS)}, got {blending_method!r}")
    if not isinstance(dw_conv, bool):
        raise ConfigError(f"dw_conv must be true or false, got {dw_conv!r}")
