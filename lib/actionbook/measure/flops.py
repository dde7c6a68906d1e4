"""Parameters and FLOPs under named conventions, counted from shapes alone.

A forward pass runs on the `meta` device: no memory, no arithmetic, so counting a 64-frame ResNet-50 at 224x224
is instant. Three conventions, all counting one multiply-add as one FLOP:

- ``conv_macs``: multiply-accumulates of every convolution (output elements x in/groups x kernel volume). The
  IBM study's "Flops" column (ibm-study spec section 8): no BN, pooling, FC, bias or element-wise work.
- ``fvcore``: fvcore's default total at the operator level: convolutions, batch norm in eval mode (2 per element
  with affine), matrix products (the FC) and adaptive_avg_pool2d (1 per input element). Counted here by
  intercepting aten operators, because fvcore's JIT trace cannot run on meta tensors; tests check it against
  fvcore itself.
- ``mmaction``: mmcv's ``get_model_complexity_info`` (the MMAction2 model zoo's FLOPs, mmaction spec 1.7),
  which hooks modules: convolutions with their bias, BN (2 per input element with affine), activations
  (1 per output element), every pooling module (1 per input element) and Linear layers. Like mmcv it matches
  exact module types: a norm the reference ran as SyncBN (`models.common.ReferenceSyncBatchNorm3d`) is left out.
"""

from __future__ import annotations

import copy
import math
from collections import Counter

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from actionbook.models import build_model

CONVENTIONS = ("conv_macs", "fvcore", "mmaction")

_aten = torch.ops.aten


def count_params(model: nn.Module) -> int:
    """Trainable tensors (BN affine and conv biases included, running statistics not), as the tables count."""
    return sum(p.numel() for p in model.parameters())


def _numel(shape) -> int:
    return math.prod(shape)


class _AtenCounter(TorchDispatchMode):
    """Counts convolution MACs and fvcore's default operator FLOPs while a forward pass dispatches."""

    def __init__(self):
        super().__init__()
        self.by_op: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        packet = func.overloadpacket
        if packet is _aten.convolution:
            weight = args[1]
            self.by_op["conv"] += out.numel() * _numel(weight.shape[1:])
        elif packet in (_aten._native_batch_norm_legit_no_training, _aten.native_batch_norm,
                        _aten._native_batch_norm_legit):
            x, weight = args[0], args[1]
            self.by_op["batch_norm"] += x.numel() * (2 if weight is not None else 1)
        elif packet in (_aten.addmm, _aten.mm):
            a, b = args[-2], args[-1]
            self.by_op["linear"] += a.shape[0] * a.shape[1] * b.shape[1]
        elif packet is _aten.bmm:
            a, b = args[0], args[1]
            self.by_op["linear"] += a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]
        return out


class _FunctionCounter(TorchFunctionMode):
    """fvcore sees adaptive_avg_pool2d as one JIT op; at the aten level it decomposes (into a mean), so catch the
    functional call instead. Batch norm on meta tensors is counted here too and answered with an empty output of the
    input's shape: PyTorch runs its meta batch norm as a Python decomposition, which took a third of `actionbook
    zoo`'s time."""

    def __init__(self, by_op: Counter):
        super().__init__()
        self.by_op = by_op

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.adaptive_avg_pool2d:
            self.by_op["adaptive_avg_pool2d"] += args[0].numel()
        elif func is F.batch_norm and args[0].is_meta:
            weight = args[3] if len(args) > 3 else kwargs.get("weight")
            self.by_op["batch_norm"] += args[0].numel() * (2 if weight is not None else 1)
            return torch.empty_like(args[0])
        return func(*args, **kwargs)


_MM_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
             nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
             nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
_MM_ACTIVATIONS = (nn.ReLU, nn.PReLU, nn.ELU, nn.LeakyReLU, nn.ReLU6)
_MM_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.InstanceNorm1d,
             nn.InstanceNorm2d, nn.InstanceNorm3d, nn.LayerNorm)
_MM_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _mmaction_hook(total: Counter):
    """mmcv's per-module rules (mmcv/cnn/utils/flops_counter.py, restated). mmcv looks modules up by their *exact*
    type, so subclasses, SyncBatchNorm among them, are not counted; neither are functional calls."""

    def hook(module, inputs, output):
        kind, x = getattr(module, "counted_as", type(module)), inputs[0]  # models.conv's fast convs count as nn's
        if kind in _MM_CONVS:
            per_position = _numel(module.kernel_size) * module.in_channels * module.out_channels // module.groups
            positions = output.shape[0] * _numel(output.shape[2:])
            total["conv"] += per_position * positions
            if module.bias is not None:
                total["conv_bias"] += module.out_channels * positions
        elif kind in _MM_NORMS:
            affine = getattr(module, "affine", getattr(module, "elementwise_affine", False))
            total["norm"] += x.numel() * (2 if affine else 1)
        elif kind in _MM_ACTIVATIONS:
            total["activation"] += output.numel()
        elif kind in _MM_POOLS:
            total["pool"] += x.numel()
        elif kind is nn.Linear:
            total["linear"] += x.numel() * output.shape[-1]
        elif kind is nn.Upsample:
            total["upsample"] += output.numel()

    return hook


def _on_meta(model: nn.Module) -> nn.Module:
    if all(t.is_meta for t in model.parameters()):
        return model
    return copy.deepcopy(model).to("meta")


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, dict[str, int]]:
    """FLOPs of one forward pass on an input of `input_shape` (batch included), by convention and by operator.

    The model is counted in eval mode on a meta-device copy (the caller's model is left untouched).
    Returns {"conv_macs": {...}, "fvcore": {...}, "mmaction": {...}}, each mapping operator -> count plus "total".
    """
    meta_model = _on_meta(model)
    was_training = meta_model.training
    meta_model.eval()
    mm_counts: Counter[str] = Counter()
    handles = [m.register_forward_hook(_mmaction_hook(mm_counts)) for m in meta_model.modules()]
    counter = _AtenCounter()
    try:
        with torch.no_grad(), _FunctionCounter(counter.by_op), counter:
            meta_model(torch.zeros(input_shape, device="meta"))
    finally:
        for h in handles:
            h.remove()
        meta_model.train(was_training)
    fv = dict(counter.by_op)
    result = {
        "conv_macs": {"conv": fv.get("conv", 0)},
        "fvcore": fv,
        "mmaction": dict(mm_counts),
    }
    for counts in result.values():
        counts["total"] = sum(counts.values())
    return result


def model_complexity(name: str, num_classes: int, frames: int, input_size: int = 224, **options) -> dict:
    """Params and FLOPs (every convention) of a registered model, for one clip (batch 1), built on meta."""
    with torch.device("meta"):
        model = build_model(name, num_classes=num_classes, frames=frames, **options)
    flops = count_flops(model, (1, 3, frames, input_size, input_size))
    return {
        "model": name,
        "num_classes": num_classes,
        "frames": frames,
        "input_size": input_size,
        "params": count_params(model),
        "conv_macs": flops["conv_macs"]["total"],
        "fvcore_flops": flops["fvcore"]["total"],
        "mmaction_flops": flops["mmaction"]["total"],
        "fvcore_by_operator": {k: v for k, v in flops["fvcore"].items() if k != "total"},
    }
