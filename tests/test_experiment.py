"""Experiment construction and validation, the one params reader and the one `--set` parser."""

import pytest
import yaml

from actionbook.errors import ConfigError
from actionbook.experiment import Experiment, changed_fields, parse_overrides, read_params


def test_overrides_are_coerced_from_strings():
    exp = Experiment.from_dict({"model": "tsn_r18", "frames": "16", "flip": "false", "lr": "0.1",
                                "lr_steps": "10,20", "dataset": "synth-kinetics", "imagenet_checkpoint": "none"})
    assert (exp.frames, exp.flip, exp.lr, exp.lr_steps, exp.imagenet_checkpoint) == (16, False, 0.1, [10, 20], None)


@pytest.mark.parametrize("values, message", [
    ({"model": "resnet9000"}, "unknown model 'resnet9000'; valid models: .*tam_r50"),
    ({"frames": "many"}, "frames must be of type int"),
    ({"sampling": "random"}, "sampling must be one of uniform, dense, mmaction"),
    ({"dataset": "imagenet"}, "imagenet"),
    ({"bogus": 1}, "unknown parameter\\(s\\) bogus"),
    ({"learning_rate": 0.1}, "learning_rate \\(did you mean lr\\?\\)"),
    ({"weight_dekay": 0.1}, "weight_dekay \\(did you mean weight_decay\\?\\)"),
    ({"lr": -1}, "lr must be a positive learning rate, got -1"),
    ({"workers": -1}, "workers must be 0 or more, got -1"),
    ({"log_every": 0}, "log_every must be at least 1, got 0"),
    ({"iters_per_epoch": 0}, "iters_per_epoch caps the iterations of an epoch: at least 1, or null"),
    ({"momentum": 1.5}, "momentum must be in \\[0, 1\\)"),
    ({"clip_gradient": 0}, "clip_gradient is a gradient-norm bound: positive, or null"),
    ({"lr_steps": [0, 5]}, "lr_steps are epochs"),
    ({"model": "tsn_r18", "blending_frames": 5}, "does not take option"),
])
def test_invalid_experiments_fail_in_one_line(values, message):
    with pytest.raises(ConfigError, match=message) as info:
        Experiment.from_dict(values)
    assert "\n" not in str(info.value)


def test_params_file_round_trip(tmp_path):
    exp = Experiment(model="tsn_r18", dataset="synth-kinetics", frames=16, lr_steps=[10, 20])
    path = tmp_path / "row.yaml"
    path.write_text(yaml.safe_dump(exp.to_dict()))
    assert Experiment.from_params(path) == exp
    assert Experiment.from_params(path, frames=8).frames == 8


def test_parse_overrides_reads_yaml_values():
    assert parse_overrides(["frames=8", "lr=0.1", "data_root=/data/x", "sync_bn=false", "lr_steps=[10, 20]"]) == {
        "frames": 8, "lr": 0.1, "data_root": "/data/x", "sync_bn": False, "lr_steps": [10, 20]}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["frames"])


@pytest.mark.parametrize("text, message", [
    ("model: [unclosed", "not valid YAML \\(line 1\\)"),
    ("- a\n- list", "must hold a mapping"),
])
def test_read_params_rejects_bad_files_in_one_line(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        read_params(path)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        read_params(tmp_path / "missing.yaml")


def test_run_neutral_fields_change_neither_identity_nor_resume():
    exp = Experiment(model="tsn_r18", dataset="synth-kinetics")
    neutral = exp.replace(workers=7, log_every=3, name="other", device="cpu")
    assert neutral.run_id() == exp.run_id() and changed_fields(exp.to_dict(), neutral.to_dict()) == []
    changed = exp.replace(lr=0.5)
    assert changed.run_id() != exp.run_id() and changed_fields(exp.to_dict(), changed.to_dict()) == ["lr"]
