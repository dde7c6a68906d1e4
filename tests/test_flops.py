"""FLOP conventions counted on the meta device, checked against fvcore itself and by hand."""

import pytest
import torch
from torch import nn

from actionbook.measure import count_flops, count_params


def _fvcore_total(model, x):
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model.eval(), x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return analysis.total(), analysis.by_operator()


def test_conv_macs_by_hand():
    model = nn.Sequential(nn.Conv3d(3, 8, (3, 3, 3), padding=1, bias=False), nn.BatchNorm3d(8), nn.ReLU(),
                          nn.Conv3d(8, 8, (3, 1, 1), padding=(1, 0, 0), groups=8))
    flops = count_flops(model, (1, 3, 4, 6, 6))
    out = 8 * 4 * 6 * 6
    assert flops["conv_macs"]["total"] == out * 3 * 27 + out * 1 * 3
    mm = flops["mmaction"]
    assert mm["norm"] == 2 * out and mm["activation"] == out and mm["conv_bias"] == out


@pytest.mark.parametrize("name", ["torchvision_r18", "tsn_r18", "tam_r18", "i3d_r18", "s3d", "tsn_inception_v1"])
def test_fvcore_convention_equals_fvcore(name):
    if name == "torchvision_r18":
        import torchvision

        model = torchvision.models.resnet18(num_classes=10)
        x = torch.zeros(2, 3, 32, 32)
        ours = count_flops(model, tuple(x.shape))["fvcore"]
    else:
        from actionbook.models import build_model

        model = build_model(name, num_classes=10, frames=4)
        x = torch.zeros(1, 3, 4, 32, 32)
        ours = count_flops(model, tuple(x.shape))["fvcore"]
    total, by_op = _fvcore_total(model, x)
    assert ours["total"] == total, (ours, dict(by_op))


def test_counting_leaves_the_model_alone():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    before = [p.clone() for p in model.parameters()]
    count_flops(model, (1, 3, 8, 8))
    assert all(torch.equal(a, b) and not b.is_meta for a, b in zip(before, model.parameters()))
    assert count_params(model) == 4 * 3 * 9 + 4
