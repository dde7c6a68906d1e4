"""ImageNet initialisation: 2D loading, 2D->3D inflation ("repeat" for IBM, "mean" for MMAction2), and loud failures.

Checkpoints are randomly initialised torchvision models' state dicts: nothing is downloaded.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from actionbook.errors import ConfigError
from actionbook.models import build_model, list_models
from actionbook.models.pretrained import imagenet_file, inflate, load_imagenet


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


@pytest.fixture(scope="module")
def resnet50() -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet50(weights=None).eval()


@pytest.fixture(scope="module")
def googlenet_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False).state_dict()


def meta_model(name: str) -> nn.Module:
    with torch.device("meta"):
        return build_model(name, num_classes=10, frames=8)


def still_clip(image: torch.Tensor, frames: int) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 3, T, H, W): the same image in every frame."""
    return image.unsqueeze(2).expand(-1, -1, frames, -1, -1).contiguous()


def test_inflate_rules():
    w = torch.randn(4, 3, 3, 3)
    assert torch.equal(inflate(w, 5, "repeat")[:, :, 2], w)
    assert torch.allclose(inflate(w, 5, "mean").sum(dim=2), w)
    with pytest.raises(ConfigError, match="inflation rule"):
        inflate(w, 3, "sum")


@pytest.mark.parametrize("name,factor", [("i3d_r18", 3.0), ("s3d_r18", 3.0)])
def test_repeat_inflation_multiplies_the_2d_response(resnet18, name, factor):
    """IBM: a kt-tap stem on a still clip gives kt times the 2D conv's response at interior frames."""
    model = build_model(name, num_classes=10, frames=8)
    report = load_imagenet(model, resnet18.state_dict())
    assert "conv1.weight" in report.inflated
    image = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        out3d = model.conv1(still_clip(image, 8))
        out2d = resnet18.conv1(image)
    for t in range(1, 7):  # frames 0 and 7 see the temporal zero pad
        torch.testing.assert_close(out3d[:, :, t], factor * out2d, rtol=1e-4, atol=1e-4)


def test_s3d_spatial_halves_are_the_2d_convs(resnet18):
    model = build_model("s3d_r18", num_classes=10, frames=8)
    load_imagenet(model, resnet18.state_dict())
    block, block2d = model.layer1[0], resnet18.layer1[0]
    image = torch.randn(1, 64, 8, 8)
    with torch.no_grad():
        out3d = block.conv1(still_clip(image, 4))
    for t in range(4):
        torch.testing.assert_close(out3d[:, :, t], block2d.conv1(image), rtol=1e-4, atol=1e-4)
    assert torch.equal(block.bn1.running_var, block2d.bn1.running_var)


def test_mean_inflation_reproduces_the_2d_network(resnet50):
    """MMAction2: kernels divided by k_t, so on a still clip the eval-mode stem and res2 equal the 2D ResNet's
    wherever no temporal zero pad reaches (32 frames -> 8 after the stem; the 3x1x1 convs erode one frame per block)."""
    model = build_model("mmaction_i3d_r50", num_classes=10, frames=32).eval()
    report = load_imagenet(model, resnet50.state_dict())
    assert report.inflation == "mean" and "layer1.0.conv1.weight" in report.inflated
    assert model.conv1.weight.shape[2] == 5 and model.layer1[0].conv1.weight.shape[2] == 3
    image = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        out3d = model.layer1(model.forward_stem(still_clip(image, 32)))
        out2d = resnet50.layer1(resnet50.maxpool(resnet50.relu(resnet50.bn1(resnet50.conv1(image)))))
    assert out3d.shape[2] == 8
    torch.testing.assert_close(out3d[:, :, 4], out2d, rtol=1e-4, atol=1e-4)


def test_inception_inflation_and_ignored_heads(googlenet_state):
    model = build_model("i3d", num_classes=10, frames=8)
    report = load_imagenet(model, googlenet_state)
    assert model.conv1.conv.weight.shape[2] == 7
    torch.testing.assert_close(model.conv1.conv.weight[:, :, 3], googlenet_state["conv1.conv.weight"])
    assert torch.equal(model.inception5b.branch2[1].bn.running_mean,
                       googlenet_state["inception5b.branch2.1.bn.running_mean"])
    assert set(report.ignored) == {k for k in googlenet_state if k.startswith(("fc.", "aux1.", "aux2."))}
    assert report.kept_random == ["head.fc.weight", "head.fc.bias"]


def test_temporal_tensors_are_reported_as_kept_random(resnet18, googlenet_state):
    s3d_r18 = build_model("s3d_r18", num_classes=10, frames=8)
    report = load_imagenet(s3d_r18, resnet18.state_dict())
    assert {"layer1.0.conv1_t.weight", "layer1.0.bn1_t.running_var", "layer4.1.conv2_t.weight",
            "head.fc.weight"} <= set(report.kept_random)
    assert all("_t." in k or k.startswith("head.") for k in report.kept_random)
    assert len(report.loaded) == len(resnet18.state_dict()) - 2  # all but the 2D fc
    s3d = build_model("s3d", num_classes=10, frames=8)
    report = load_imagenet(s3d, googlenet_state)
    assert {"conv3.conv_t.weight", "conv3.conv_t.bias", "inception4a.branch3.1.bn_t.weight"} <= set(report.kept_random)
    summary = report.summary()
    assert "s3d" in summary and "kept" in summary.lower() and "\n" not in summary


@pytest.mark.parametrize("name", ["i3d_r18", "tsn_r18"])
def test_missing_and_misshaped_keys_fail_by_name(resnet18, name):
    if name not in list_models():
        pytest.skip(f"{name} is not registered yet")
    model = meta_model(name)  # every check fails before a tensor is copied
    missing = dict(resnet18.state_dict())
    del missing["layer1.0.bn1.running_mean"]
    with pytest.raises(ConfigError, match=r"missing from the checkpoint: layer1\.0\.bn1\.running_mean"):
        load_imagenet(model, missing)
    misshaped = dict(resnet18.state_dict())
    misshaped["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
    with pytest.raises(ConfigError, match=r"cannot be loaded or inflated: layer2\.0\.conv1\.weight"):
        load_imagenet(model, misshaped)
    extra = dict(resnet18.state_dict(), **{"layer5.0.conv1.weight": torch.zeros(1)})
    with pytest.raises(ConfigError, match=r"does not have: layer5\.0\.conv1\.weight"):
        load_imagenet(model, extra)


def test_wrong_architecture_fails(resnet18):
    model = meta_model("i3d_r50")
    with pytest.raises(ConfigError, match="cannot initialise 'i3d_r50'"):
        load_imagenet(model, resnet18.state_dict())


def test_models_trained_from_scratch_refuse():
    model = meta_model("mmaction_slowonly_r50")
    with pytest.raises(ConfigError, match="trained from scratch"):
        load_imagenet(model)


def test_torchvision_cache_and_paths(resnet18, tmp_path):
    model = build_model("i3d_r18", num_classes=10, frames=8)
    hub_dir = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        expected = tmp_path / "checkpoints" / "resnet18-f37072fd.pth"
        assert imagenet_file("resnet18") == expected
        with pytest.raises(ConfigError, match="expected torchvision's file at .*resnet18-f37072fd.pth"):
            load_imagenet(model)
        expected.parent.mkdir()
        torch.save(resnet18.state_dict(), expected)
        assert load_imagenet(model).source == str(expected)
    finally:
        torch.hub.set_dir(hub_dir)
    assert load_imagenet(model, str(expected)).source == str(expected)
    with pytest.raises(ConfigError, match="does not exist"):
        load_imagenet(model, tmp_path / "nowhere.pth")


@pytest.mark.parametrize("name,arch", [("tsn_r18", "resnet18"), ("tam_r18", "resnet18"),
                                       ("tsn_inception_v1", "googlenet")])
def test_2d_models_load_directly(resnet18, googlenet_state, name, arch):
    if name not in list_models():
        pytest.skip(f"{name} is not registered yet (2D models come from resnet2d.py / inception2d.py)")
    state = resnet18.state_dict() if arch == "resnet18" else googlenet_state
    model = build_model(name, num_classes=10, frames=8)
    report = load_imagenet(model, state)
    assert not report.inflated
    assert all(k.startswith("fc.") or "tam" in k for k in report.kept_random)
    assert any("tam" in k for k in report.kept_random) == name.startswith("tam")
    key = "layer1.0.conv1.weight" if arch == "resnet18" else "inception3a.branch2.1.conv.weight"
    assert torch.equal(model.state_dict()[key], state[key])


@pytest.mark.parametrize("name", ["tam_r18", "tam_inception_v1"])
def test_identity_start_makes_tam_the_2d_network_it_loaded(resnet18, googlenet_state, name):
    """temporal_start="identity": TAM's modules pass every frame through, so TAM computes TSN's function on any clip
    (the proxy's start); the default keeps the paper's random init."""
    state = resnet18.state_dict() if name == "tam_r18" else googlenet_state
    tsn, tam = (build_model(n, num_classes=10, frames=4).eval() for n in (name.replace("tam", "tsn"), name))
    load_imagenet(tsn, state)
    report = load_imagenet(tam, state, temporal_start="identity")
    assert report.identity_start and all("tam" in k for k in report.identity_start)
    assert "start as the identity" in report.summary()
    tam.fc.load_state_dict(tsn.fc.state_dict())
    clip = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(tam(clip), tsn(clip), rtol=1e-4, atol=1e-4)
    random = build_model(name, num_classes=10, frames=4)
    assert not load_imagenet(random, state).identity_start


def test_identity_start_passes_s3d_features_through_its_temporal_halves(resnet18):
    model = build_model("s3d_r18", num_classes=10, frames=8)
    report = load_imagenet(model, resnet18.state_dict(), temporal_start="identity")
    halves = [k for k in report.kept_random if k.endswith("_t.weight") and "conv" in k]
    assert sorted(report.identity_start) == sorted(halves) and len(halves) == 16
    x = torch.randn(2, 64, 8, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(model.layer1[0].conv1_t(x), x)
    i3d = build_model("i3d_r18", num_classes=10, frames=8)
    assert not load_imagenet(i3d, resnet18.state_dict(), temporal_start="identity").identity_start  # none to start
    with pytest.raises(ConfigError, match="temporal_start must be one of random, identity"):
        load_imagenet(model, resnet18.state_dict(), temporal_start="dirac")
