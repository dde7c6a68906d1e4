"""The fast path (issue 19) changes nothing that matters: TAM's Conv2d formulation computes the literal Conv3d's
outputs and gradients and loads its checkpoints, the fast convs compute what nn's convs compute, fused optimiser
steps equal the loop's, and the trainer's choices (channels_last by family, threads against cores, validation every
`eval_every` epochs) are recorded and resume exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from actionbook import runs
from actionbook.errors import ConfigError
from actionbook.experiment import Experiment
from actionbook.measure import fastpath, steps
from actionbook.measure.flops import model_complexity
from actionbook.models import build_model
from actionbook.models.conv import FastConv2d, FastConv3d, trim_padding_taps
from actionbook.models.tam import TAM
from actionbook.openmp import (
    OPENMP_BUSY,
    OPENMP_QUIET,
    OPENMP_WAIT_VARIABLES,
    machine_busy,
    openmp_defaults,
    openmp_settings,
    others_running,
)
from actionbook.train import train, trainer
from actionbook.train.optim import build_optimizer
from conftest import tiny_kinetics_set


def _both_formulations(x: torch.Tensor, **options) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(outputs, input grads, weight grads) of the Conv2d formulation and of the literal Conv3d one."""
    fast = TAM(x.shape[1], 4, **options)
    literal = TAM(x.shape[1], 4, **options)
    literal.load_state_dict(fast.state_dict())
    literal.formulation = "conv3d"
    results = []
    for module in (fast, literal):
        xi = x.clone().requires_grad_()
        y = module(xi)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        results.append([y.detach(), xi.grad, module.weight.grad])
    return results[0], results[1]


@pytest.mark.parametrize("options", [{}, {"blending_frames": 4}, {"blending_frames": 5, "blending_method": "max"},
                                     {"dw_conv": False}], ids=["b3-sum", "b4-even", "b5-max", "full-conv"])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_tam_conv2d_equals_the_literal_conv3d(options, layout):
    torch.manual_seed(0)
    x = torch.randn(8, 6, 5, 7)  # 2 videos x 4 frames
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    fast, literal = _both_formulations(x, **options)
    for a, b in zip(fast, literal):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_tam_keeps_the_conv3d_checkpoint_layout():
    """A state dict saved with the Conv3d-shaped weight loads as it is, and the counts see a Conv3d."""
    tam = TAM(6, 4)
    old = nn.Conv3d(6, 6, kernel_size=(3, 1, 1), groups=6, bias=False)
    tam.load_state_dict(old.state_dict())
    assert tam.weight.shape == (6, 1, 3, 1, 1) and isinstance(tam, nn.Conv3d)
    x = torch.randn(8, 6, 5, 7)
    video = x.view(2, 4, 6, 5, 7).transpose(1, 2)
    expected = torch.relu(old(nn.functional.pad(video, (0, 0, 0, 0, 1, 1)))).transpose(1, 2).reshape(8, 6, 5, 7)
    torch.testing.assert_close(tam(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("conv, shape", [
    (FastConv2d(6, 5, 3, padding=1), (2, 6, 1, 1)),  # 3x3 on a 1x1 map: the centre tap only
    (FastConv2d(6, 5, 7, padding=3, groups=1), (2, 6, 2, 9)),  # trimmed to 3 taps in height, untouched in width
    (FastConv2d(6, 6, 3, stride=2, padding=1, groups=3), (2, 6, 1, 1)),  # strided: left as declared
    (FastConv3d(6, 5, 3, padding=1), (2, 6, 4, 1, 1)),  # 3x3x3 on T x 1 x 1 -> a 3x1x1 kernel run as Conv2d
    (FastConv3d(6, 5, (3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0), bias=True), (2, 6, 5, 3, 2)),  # temporal half
    (FastConv3d(6, 6, (1, 3, 3), padding=(0, 1, 1), groups=6), (2, 6, 3, 1, 1)),  # spatial half on 1x1: pointwise
    (FastConv3d(6, 5, (3, 3, 3), padding=1), (2, 6, 3, 4, 4)),  # nothing to trim
    (FastConv2d(6, 5, 3, stride=2, padding=1, bias=True), (2, 6, 2, 2)),  # one output reading the whole map
    (FastConv3d(6, 5, (1, 3, 3), stride=(2, 2, 2), padding=(0, 1, 1)), (2, 6, 5, 2, 1)),  # one position per frame
    (FastConv2d(6, 5, 3, stride=2, padding=0), (2, 6, 3, 3)),  # one output, the whole kernel on the map
    (FastConv2d(6, 5, 1, stride=2), (2, 6, 2, 2)),  # one output that reads one position: not a product
    (FastConv3d(6, 6, (3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0), groups=3, bias=True), (3, 6, 5, 1, 1)),
], ids=["2d-1x1", "2d-7x7-thin", "2d-strided", "3d-3x3x3-on-1x1", "3d-temporal", "3d-spatial-dw", "3d-untouched",
        "2d-product", "3d-product-per-frame", "2d-product-whole-kernel", "2d-strided-pointwise",
        "3d-temporal-on-1x1-batch-in-width"])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_fast_convs_equal_the_declared_conv(conv, shape, layout):
    """Outputs, input gradients and weight gradients (zero on the dropped taps) equal the conv as declared."""
    torch.manual_seed(0)
    x = torch.randn(shape)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last if x.dim() == 4 else torch.channels_last_3d)
    results = []
    for fast in (True, False):
        conv.fast = fast
        conv.zero_grad(set_to_none=True)
        xi = x.clone().requires_grad_()
        y = conv(xi)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        results.append([y.detach(), xi.grad, conv.weight.grad])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


CL, CONTIGUOUS = "channels_last", "contiguous"


@pytest.mark.parametrize("model, size, layouts", [
    ("tsn_r18", 64, (CL, CL, CONTIGUOUS)),  # the stem, layer1 and layer2 channels_last; layer3 back to contiguous
    ("s3d_r18", 64, (CL, CL, CONTIGUOUS)),  # its spec takes the stages along (ResNet3dSpec.channels_last_front)
    ("i3d_r18", 64, (CL, CONTIGUOUS, CONTIGUOUS)),  # 3x3x3 kernels: the stem only
    ("tsn_r18", 96, (CL, CONTIGUOUS, CONTIGUOUS)),  # above FRONT_STAGES_MAX_SIZE: the stem only
])
def test_the_front_runs_channels_last_and_computes_what_it_declares(model, size, layouts):
    """The fast front sees its input channels_last (the stages too, where they join it) and hands the rest
    contiguous maps (float32: the layouts oneDNN gets); its outputs and gradients equal the plain front's. Those are
    compared in float64: in float32 the two differ by rounding, and one ReLU that rounding tips the other way moves
    a layer's gradients by 1e-3."""
    torch.manual_seed(0)
    net = build_model(model, num_classes=3, frames=4, dropout=0.0)
    x = torch.randn(2, 3, 4, size, size)
    seen = []
    hooks = [module.register_forward_hook(lambda _m, i, _o: seen.append(CL if not i[0].is_contiguous() else CONTIGUOUS))
             for module in (net.conv1, net.layer1, net.layer3)]
    for fast in (True, False):
        net.fast_front = fast
        net(x)
    assert seen == [*layouts, CONTIGUOUS, CONTIGUOUS, CONTIGUOUS]  # fast, then plain
    for hook in hooks:
        hook.remove()

    net, x = net.double(), x.double()

    def run(fast: bool) -> list[torch.Tensor]:
        net.fast_front = fast
        net.zero_grad(set_to_none=True)
        y = net(x)
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        return [y.detach()] + [p.grad for p in net.parameters()]

    for f, p in zip(run(fast=True), run(fast=False)):
        torch.testing.assert_close(f, p, rtol=1e-9, atol=1e-12)


def test_trimming_keeps_the_declared_kernel_where_the_map_is_larger():
    weight = torch.zeros(4, 4, 3, 5)
    trimmed, padding = trim_padding_taps(weight, (1, 2), (2, 1), (1, 1), (1, 1))
    assert trimmed.shape == (4, 4, 3, 1) and padding == (1, 0)
    assert trimmed.data_ptr() == weight.data_ptr() + 2 * weight.element_size()  # a view of the centre column


def test_fast_convs_are_counted_as_the_declared_conv():
    """FLOPs count the declared kernels (the tables' convention), even at a size where the step trims them, and
    mmcv's exact-type counter sees the fast convs as nn's."""
    counted = model_complexity("i3d_r18", num_classes=4, frames=4, input_size=32)
    model = build_model("i3d_r18", num_classes=4, frames=4).eval()
    declared = []
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            m.register_forward_hook(lambda m, _x, y: declared.append(y.numel() * m.weight[0].numel()))
    with torch.no_grad():
        model(torch.randn(1, 3, 4, 32, 32))
    assert counted["conv_macs"] == sum(declared)
    assert isinstance(model.layer4[0].conv1, FastConv3d) and model.layer4[0].conv1.counted_as is nn.Conv3d
    assert counted["mmaction_flops"] > counted["conv_macs"]


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_fused_optimizer_steps_equal_the_loop(optimizer):
    exp = Experiment(model="tsn_r18", optimizer=optimizer, lr=0.05, weight_decay=1e-3, nesterov=True)
    torch.manual_seed(0)
    # no bias before a batch norm: its gradient is rounding noise, which Adam scales up to whole steps
    models = [nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    fused = build_optimizer(models[0], exp)
    assert fused.defaults["fused"]
    if optimizer == "adamw":  # PyTorch's per-parameter loop: what the trainer ran before
        loop = torch.optim.AdamW(models[1].parameters(), lr=0.05, weight_decay=1e-3, foreach=False)
    else:
        loop = torch.optim.SGD(models[1].parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3,
                               foreach=False)
    x, y = torch.randn(16, 5), torch.randint(3, (16,))
    for _ in range(4):
        for model, opt in zip(models, (fused, loop)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_fused_only_where_supported():
    assert fastpath.fused_supported([torch.zeros(2), torch.zeros(3)])
    assert not fastpath.fused_supported([torch.zeros(2, dtype=torch.int64)])
    assert not fastpath.fused_supported([])


def test_channels_last_by_family():
    assert fastpath.channels_last_default("tsn_r18", 224) and fastpath.channels_last_default("tam_r50", 112)
    assert not fastpath.channels_last_default("tam_r18", 32)  # the proxy's size: measured no faster
    assert not fastpath.channels_last_default("i3d_r18", 224) and not fastpath.channels_last_default("s3d_r18", 224)
    model = fastpath.to_channels_last(build_model("tam_r18", num_classes=4, frames=4))
    weights = {p.dim(): p for p in model.parameters() if p.dim() in (4, 5)}
    assert weights[4].is_contiguous(memory_format=torch.channels_last)
    assert weights[5].is_contiguous(memory_format=torch.channels_last_3d)  # TAM's Conv3d-shaped weight


def test_threads_leave_a_core_per_worker(monkeypatch):
    monkeypatch.setattr(fastpath, "cores", lambda: 2)
    assert fastpath.intra_op_threads(0) == 2 and fastpath.intra_op_threads(1) == 1 and fastpath.intra_op_threads(4) == 1
    assert fastpath.intra_op_threads(0, processes=2) == 1
    assert fastpath.loader_workers(4, "cpu") == 1 and fastpath.loader_workers(0, "cpu") == 0
    assert fastpath.loader_workers(4, "meta") == 4  # not the CPU: the request stands
    previous = torch.get_num_threads()
    try:
        said = fastpath.apply_thread_policy(workers=1)
        assert said["intra_op_threads"] == torch.get_num_threads() == 1 and said["cores"] == 2
    finally:
        torch.set_num_threads(previous)


FREED_BLOCKS = """
import ctypes, resource, sys, torch
from actionbook.measure import fastpath
from actionbook.measure.fastpath import keep_freed_memory
if sys.argv[1] == "keep":
    keep_freed_memory({})
else:  # glibc's own threshold, held there: every block is mapped afresh (its dynamic one sometimes is, at random)
    ctypes.CDLL("libc.so.6").mallopt(fastpath.M_MMAP_THRESHOLD, 128 * 1024)
def two_blocks():  # 12 MiB each, written and freed, as a step's activations and gradients are
    torch.ones(3 * 2**20), torch.ones(3 * 2**20)
for _ in range(3):  # the heap grows to hold them
    two_blocks()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    two_blocks()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_memory_is_kept_for_the_next_step_unless_the_user_set_malloc():
    def page_faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", FREED_BLOCKS, mode], capture_output=True, text=True, check=True)
        return int(out.stdout.split()[0])

    pages = 10 * 2 * 12 * 2**20 // 4096
    assert page_faults("hand back") > pages // 2  # every block's pages are faulted in again
    assert page_faults("keep") < pages // 4  # at most a late growth of the heap
    assert fastpath.keep_freed_memory({"MALLOC_TRIM_THRESHOLD_": "0"}) == {
        "allocator": "the environment's malloc settings"}
    assert fastpath.keep_freed_memory({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=4096"})["allocator"].startswith(
        "the environment's")


def test_step_benchmark_runs_each_path_in_its_own_process_with_its_runtime_settings():
    (record,) = steps.run_steps(("tam_r18",), iters=2, warmup=1)
    today, fast = record["paths"]["today"], record["paths"]["fast"]
    assert today["tam_formulation"] == "conv3d" and fast["fused_optimizer"]
    assert fast["fast_convs"] and not today["fast_convs"]
    assert not fast["channels_last"] and not today["channels_last"]  # 32 px
    # each process started with its path's wait, whatever this process's environment says
    assert today["process"]["threads"]["openmp"]["GOMP_SPINCOUNT"] == steps.LIBGOMP_DEFAULT["GOMP_SPINCOUNT"]
    assert fast["process"]["threads"]["openmp"]["GOMP_SPINCOUNT"] == OPENMP_QUIET["GOMP_SPINCOUNT"]
    # and only the fast path's processes keep freed memory
    assert fast["keep_freed_memory"] and fast["process"]["allocator"]["allocator"] == "glibc, freed memory kept"
    assert not today["keep_freed_memory"] and today["process"]["allocator"] == {"allocator": "glibc's defaults"}
    assert today["time"]["n"] == fast["time"]["n"] == 2 and today["time"]["skipped"] == 1
    assert record["speedup"] == pytest.approx(today["time"]["median"] / fast["time"]["median"])
    # the third path splits the speed-up: today's kernels with the fast path's wait
    middle = record["paths"]["today_fast_runtime"]
    assert middle["tam_formulation"] == "conv3d" and middle["openmp"] == fast["openmp"]
    assert middle["process"]["allocator"] == fast["process"]["allocator"]
    assert record["speedup_from_runtime"] * record["speedup_from_kernels"] == pytest.approx(record["speedup"])
    # each path's FLOP/s against the matmul peak measured in the same run
    assert record["peaks"]["fp32"]["flops_per_s"] > 0 and record["flops"]["train_flops_per_iter"] > 0
    assert fast["mfu"]["mfu"] == pytest.approx(
        record["flops"]["train_flops_per_iter"] / fast["time"]["median"] / record["peaks"]["fp32"]["flops_per_s"])
    # the fast path executes fewer FLOPs than today's (layer4's taps that read only padding are not computed)
    assert 0 < fast["executed"]["flops_per_step"] < today["executed"]["flops_per_step"]
    assert set(record["load"]) == {"loadavg_before", "loadavg_after"} and record["flush_denormal"]


def test_step_benchmark_rejects_bad_requests_before_starting_processes():
    with pytest.raises(ConfigError, match="iterations"):
        steps.run_steps(("tam_r18",), iters=0)
    with pytest.raises(ConfigError, match="unknown model 'tam_r99'"):
        steps.run_steps(("tam_r99",), iters=1)


def test_openmp_defaults_give_way_to_the_users_settings():
    assert openmp_defaults({}, busy=False) == OPENMP_QUIET and openmp_defaults({}, busy=True) == OPENMP_BUSY
    assert int(OPENMP_BUSY["GOMP_SPINCOUNT"]) < int(OPENMP_QUIET["GOMP_SPINCOUNT"])
    assert openmp_defaults({"OMP_WAIT_POLICY": "PASSIVE"}) == {}
    assert openmp_defaults({"GOMP_SPINCOUNT": "0"}) == {}
    assert openmp_settings({"GOMP_SPINCOUNT": "1000"}) == {"OMP_WAIT_POLICY": "unset", "GOMP_SPINCOUNT": "1000"}


def test_the_wait_follows_what_else_runs_when_the_process_starts():
    # /proc/loadavg's fourth field counts the running tasks, the reader included
    reads = iter(["0.10 0.20 0.30 1/200 4242", "0.10 0.20 0.30 3/200 4242", "0.10 0.20 0.30 1/200 4242"])
    assert others_running(lambda: next(reads), samples=3, interval_s=0) == 0
    assert not machine_busy(lambda: "0.10 0.20 0.30 1/200 4242")
    assert machine_busy(lambda: "2.00 1.50 1.00 2/200 4242")
    assert machine_busy(lambda: "not a loadavg")  # unreadable: the short spin, which is safe beside other work


def test_importing_actionbook_sets_the_wait_before_torch_loads(tmp_path):
    code = "import os, actionbook, torch; print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k not in OPENMP_WAIT_VARIABLES}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    spin, policy = out.stdout.split()
    assert spin in (OPENMP_QUIET["GOMP_SPINCOUNT"], OPENMP_BUSY["GOMP_SPINCOUNT"]) and policy == "None"
    out = subprocess.run([sys.executable, "-c", code], env=env | {"OMP_WAIT_POLICY": "PASSIVE"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "PASSIVE"]


# ---- the trainer ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "synth-kinetics"
    tiny_kinetics_set(root, train_per_class=4, val_per_class=2, seed=3)
    return root


def _experiment(root: Path, **overrides) -> Experiment:
    values = dict(dataset="synth-kinetics", data_root=str(root), model="tsn_r18", frames=4, input_size=32,
                  batch_size=4, epochs=3, iters_per_epoch=2, optimizer="adamw", lr=1e-3, workers=0, device="cpu",
                  log_every=1, seed=1, eval_every=2)
    return Experiment.from_dict({**values, **overrides})


def test_eval_every_validates_at_its_epochs_and_the_last_and_resumes_exactly(data_root, tmp_path, monkeypatch):
    reference = train(_experiment(data_root), tmp_path / "reference", progress=False)
    assert [e["val_top1"] is not None for e in reference["history"]] == [False, True, True]
    assert reference["engine"]["channels_last"] is False and reference["engine"]["fused_optimizer"]
    assert reference["engine"]["threads"]["intra_op_threads"] >= 1
    # killed in the third epoch: the second epoch's checkpoint is where it resumes (the first has none)
    original, calls = trainer.Trainer._train_epoch, {"n": 0}

    def dies_in_epoch_3(self, epoch, *args):
        calls["n"] += 1
        if epoch == 2:
            raise KeyboardInterrupt("killed")
        return original(self, epoch, *args)

    monkeypatch.setattr(trainer.Trainer, "_train_epoch", dies_in_epoch_3)
    run_dir = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        train(_experiment(data_root), run_dir, progress=False)
    monkeypatch.setattr(trainer.Trainer, "_train_epoch", original)
    assert torch.load(runs.checkpoint_file(run_dir, "last"), weights_only=True)["epoch"] == 2
    resumed = train(_experiment(data_root), run_dir, progress=False)
    volatile = ("mean_iter_s", "mean_data_s")
    strip = [{k: v for k, v in e.items() if k not in volatile} for e in reference["history"]]
    assert [{k: v for k, v in e.items() if k not in volatile} for e in resumed["history"]] == strip
    assert resumed["metrics"] == reference["metrics"]


def test_eval_every_must_be_positive(data_root):
    with pytest.raises(ConfigError, match="eval_every must be at least 1"):
        _experiment(data_root, eval_every=0)


def test_live_view_draws_only_the_end_when_nobody_watches(tmp_path, monkeypatch):
    from actionbook.live import LiveView  # the notebook floor: IPython and matplotlib, only for this test

    monkeypatch.setenv("ACTIONBOOK_UNATTENDED", "1")  # what `actionbook run` gives its kernels
    view = LiveView(tmp_path, total_iters=2)
    drawn = []
    monkeypatch.setattr(view, "refresh", lambda final=False: drawn.append(final))
    with view:
        pass
    assert not view.watched and view._thread.ident is None and drawn == [True]  # never started, drawn once
    monkeypatch.delenv("ACTIONBOOK_UNATTENDED")
    assert LiveView(tmp_path, total_iters=2).watched
