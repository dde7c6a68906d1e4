"""MMAction2's training-speed benchmark (mmaction-benchmark spec, section 2) on any device: a list of cases through
the speed protocol (`actionbook.measure.speed`), one record per (setting, device, variant).

Variants of a case (the record's `variant` field):

* ``train``: the table's protocol: batches from a DataLoader over real decoded video (the synthetic Kinetics set by
  default), the project's model in eager fp32. Reports the data-time share (time blocked on the loader / time).
* ``compute``: the same iteration on a preloaded batch already normalised on the device (spec 5.9's compute-only
  figure): forward, loss, backward, clipping, optimiser step.
* ``impl-<name>``: the same network from another implementation (torchvision, pytorchvideo, MMAction2 itself),
  eager fp32, through the same compute-only step.
* ``opt-<name>``: the project's model with one speed option on (bf16 autocast, channels-last, torch.compile,
  cuDNN benchmark), and ``opt-best``: all options that helped, together.

The compute, impl and opt variants of a case run interleaved in one process, so their ratios stay fair. MMAction2
skipped the first 50 iterations; so does a GPU run here, a CPU-scale run fewer (its records say so).
"""

from __future__ import annotations

import gc
import os
import statistics
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from functools import partial

import torch

from actionbook import data
from actionbook.errors import ConfigError
from actionbook.measure import environment
from actionbook.measure.peaks import device_peaks
from actionbook.measure.speed import (
    MEMORY_WARMUP,
    OPTIONS,
    SCHEMA,
    Runner,
    SpeedOptions,
    SyntheticLoader,
    loadavg,
    mfu,
    run_interleaved,
    run_loader,
    speed_option,
    synthetic_batch,
    training_flops,
    write_records,
)
from actionbook.openmp import openmp_settings
from actionbook.paths import speed_records_dir
from actionbook.studies.mmaction.cases import DEFAULTS, PUBLISHED_WARMUP, BenchCase, bench_case, device_type
from actionbook.studies.mmaction.peers import (
    Implementation,
    build_ours,
    implementation_available,
    implementations,
    library_version,
    same_network_check,
)


@dataclass
class BenchPlan:
    """What `run_bench` measures (everything the CLI takes)."""

    keys: list[str]
    device: str = "cpu"
    batch: int | None = None
    input_size: int | None = None
    warmup: int | None = None
    iters: int | None = None
    compare: bool = False
    options: list[str] = field(default_factory=list)
    best: bool = True  # with options: also all helpful options together ("opt-best")
    loader: str = "video"  # video (the data layer) or synthetic (host tensors, no decoding)
    dataset: str = "synth-kinetics"
    data_root: str | None = None
    workers: int | None = None
    out: str | None = field(default_factory=lambda: str(speed_records_dir()))  # None: write no records
    seed: int = 0

    def resolved(self) -> BenchPlan:
        kind = device_type(self.device)
        if kind == "cuda" and not torch.cuda.is_available():
            raise ConfigError("--device cuda asked for, but no CUDA device is available")
        unknown = sorted(set(self.options) - set(OPTIONS))
        if unknown:
            raise ConfigError(f"unknown speed option(s) {', '.join(unknown)}; expected {', '.join(OPTIONS)}")
        if self.loader not in ("video", "synthetic"):
            raise ConfigError(f"loader must be video or synthetic, got {self.loader!r}")
        d = DEFAULTS[kind]
        return replace(self, warmup=d["warmup"] if self.warmup is None else self.warmup,
                       iters=d["iters"] if self.iters is None else self.iters,
                       workers=d["workers"] if self.workers is None else self.workers)


class CaseRunner(Runner):
    """A runner of one case: the implementation `impl` of the case's network on the case's batch, its gradients
    clipped as the case's config clips them."""

    def __init__(self, variant: str, case: BenchCase, impl: Implementation, options: SpeedOptions | None = None):
        super().__init__(variant, partial(impl.build, case), case.workload, options or SpeedOptions(),
                         clip_grad=case.clip_grad)
        self.case, self.impl = case, impl


_AUGMENT = {"TSN": "mmaction-tsn", "TSM": "v1", "I3D": "mmaction-i3d"}


class VideoLoader:
    """A DataLoader over decoded video (the project's data layer, MMAction2's sampling), cycling epochs with
    persistent workers."""

    def __init__(self, case: BenchCase, dataset: str = "synth-kinetics", root: str | None = None, workers: int = 1,
                 seed: int = 0):
        augment = _AUGMENT.get(case.family, "mmaction-rrc")
        self.dataset = data.build_dataset(dataset, root=root, split="train", frames=case.clip_len,
                                          sampling="mmaction", frame_interval=case.frame_interval,
                                          num_clips=case.num_clips, input_size=case.input_size, augment=augment,
                                          seed=seed)
        if len(self.dataset) < case.batch:
            raise ConfigError(f"batch {case.batch} is larger than the {dataset} training split ({len(self.dataset)})")
        self.loader = torch.utils.data.DataLoader(
            self.dataset, batch_size=case.batch, shuffle=True, drop_last=True, num_workers=workers,
            collate_fn=data.collate_clips, worker_init_fn=data.seed_worker, persistent_workers=workers > 0,
            pin_memory=torch.device(case.device).type == "cuda", generator=torch.Generator().manual_seed(seed))
        self.description = {"source": "DataLoader over decoded video", "dataset": dataset, "augment": augment,
                            "workers": workers, "videos": len(self.dataset), "sampling": "mmaction",
                            "note": "synthetic videos are small (80x60, short): decoding is cheaper than 256p "
                                    "Kinetics" if dataset.startswith("synth") else ""}

    def __iter__(self) -> Iterator:
        while True:
            yield from self.loader


def _scale_note(plan: BenchPlan, case: BenchCase) -> str:
    parts = []
    if case.batch != case.published_batch:
        parts.append(f"batch {case.batch} per device (published {case.published_batch} per GPU)")
    if case.input_size != 224:
        parts.append(f"input {case.input_size}x{case.input_size} (published 224x224)")
    if plan.warmup != PUBLISHED_WARMUP:
        parts.append(f"first {plan.warmup} iterations skipped (published 50)")
    if torch.device(plan.device).type == "cpu":
        parts = ["CPU-scale run"] + parts + [f"{plan.iters} measured iterations",
                                             f"torch threads: {torch.get_num_threads()} of {os.cpu_count()} cores, "
                                             "shared with other work (load in 'load')"]
    return ", ".join(parts)


def run_bench(plan: BenchPlan, progress: Callable[[str], None] | None = print) -> list[dict]:
    """Measure every case of `plan`; returns the records (and writes them under `plan.out` unless it is None)."""
    plan = plan.resolved()
    say = progress or (lambda _msg: None)
    device = torch.device(plan.device)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)
    say(f"measuring the {device.type} matmul peaks")
    peaks = device_peaks(device)
    prov = environment.provenance(seed=plan.seed)
    prov["versions"].update({name: library_version(module) for name, module in
                             (("pytorchvideo", "pytorchvideo"), ("mmaction2", "mmaction"), ("mmcv", "mmcv"),
                              ("mmengine", "mmengine"))})
    prov["threads"] = torch.get_num_threads()
    prov["openmp"] = openmp_settings()
    # a batch trained on again and again drives gradients subnormal: one such step took 42 s instead of 1 s (issue 19)
    torch.set_flush_denormal(True)
    prov["flush_denormal"] = True
    prov["flags"] = {"cudnn_benchmark_default": False, "allow_tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
                     "allow_tf32_cudnn": torch.backends.cudnn.allow_tf32}
    all_records: list[dict] = []
    cudnn_benchmark = torch.backends.cudnn.benchmark
    try:
        for key in plan.keys:
            case = bench_case(key, plan.device, plan.batch, plan.input_size)
            if "compile" in plan.options:
                torch._dynamo.reset()  # fresh caches per case: no recompile limit reached, no graphs kept alive
            records = _bench_one(plan, case, peaks, prov, say)
            if plan.out:
                write_records(plan.out, records)
            all_records += records
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
    return all_records


def _protocol(plan: BenchPlan, variant_kind: str, interleaved: list[str] | None = None) -> dict:
    protocol = {
        "name": "mmaction2-iter-time",
        "iteration": ("loader wait + host-to-device copy and normalisation + forward + loss + backward + gradient "
                      "clipping + SGD step" if variant_kind == "train" else
                      "forward + loss + backward + gradient clipping + SGD step on a preloaded, normalised batch"),
        "timing": ("wall time between consecutive iteration ends" if variant_kind == "train" else
                   "wall time of each iteration, runners interleaved round by round (rotating order)"),
        "sync": "loss.item() and torch.cuda.synchronize() at the end of every iteration on CUDA; CPU work is "
                "synchronous",
        "warmup_skipped": plan.warmup, "measured_iterations": plan.iters, "published_warmup_skipped": PUBLISHED_WARMUP,
        "std": "sample standard deviation (ddof=1)",
        "optimizer": "SGD lr 0.01 momentum 0.9 weight decay 1e-4, clip_grad_norm 40 (TSM 20); TSM's per-group "
                     "learning rates not reproduced (no effect on speed)",
        "loss": "cross-entropy on fp32 logits; 400 classes",
        "processes": "1 process, 1 device (the published runs: 8 GPUs with DDP)",
    }
    if interleaved:
        protocol["interleaved_with"] = interleaved
        protocol["memory_pass"] = (f"before timing, each runner alone (others released): built, min(warm-up, "
                                   f"{MEMORY_WARMUP}) iterations, peak reset, one iteration measured, released; "
                                   "then rebuilt for the timed, interleaved phase")
    return protocol


def _bench_one(plan: BenchPlan, case: BenchCase, peaks: dict, prov: dict, say) -> list[dict]:
    scale = _scale_note(plan, case)
    ours = Implementation("actionbook", build_ours, "this project's model (actionbook.models)", None)
    with torch.device("meta"):
        meta_model = build_ours(case)
    flops = training_flops(meta_model, case.input_shape)
    records = []

    # 0. one untimed iteration first, so one-time costs of the process and of these shapes (library initialisation,
    # kernel caches) land in no measured runner's memory
    prewarm = CaseRunner("prewarm", case, ours)
    prewarm.build()
    clips, labels = synthetic_batch(case.workload, plan.seed)
    prewarm.step(case.workload.model_input(clips), labels.to(prewarm.device))
    prewarm.release()
    del prewarm, clips, labels
    gc.collect()

    # 1. the table's protocol: loader included, ours in eager fp32, alone
    say(f"[{case.key}] train (loader included), batch {case.batch}, input {case.input_size}")
    if plan.loader == "video":
        loader = VideoLoader(case, plan.dataset, plan.data_root, plan.workers, plan.seed)
    else:
        loader = SyntheticLoader(case.workload, plan.seed)
    load_before = loadavg()
    runner = CaseRunner("train", case, ours)
    timed = run_loader(runner, loader, plan.warmup, plan.iters)
    mean_data = statistics.fmean(timed["data_times"])
    data_summary = {"mean_data_s": mean_data, "data_share": mean_data / runner.time_stats()["mean"],
                    "data_times": timed["data_times"],
                    "meaning": "time blocked waiting for the loader / iteration time"}
    records.append(make_record(case, runner, protocol=_protocol(plan, "train"), flops=flops, peaks=peaks,
                               data=data_summary, loader=loader.description,
                               load={"loadavg_before": load_before, "loadavg_after": loadavg()},
                               provenance=prov, scale_note=scale))
    runner.release()
    del loader
    gc.collect()

    # 2. compute-only, other implementations and speed options, interleaved
    runners = [CaseRunner("compute", case, ours)]
    skipped = []
    if plan.compare:
        for impl in implementations(case):
            reason = implementation_available(impl)
            if reason:
                skipped.append({"implementation": impl.name, "measured": False, "reason": reason})
                continue
            runners.append(CaseRunner(f"impl-{impl.name}", case, impl))
            skipped.append({"implementation": impl.name, "measured": True, "note": impl.note,
                            "version": impl.version})
    option_names = []
    for name in plan.options:
        if name == "cudnn_benchmark" and torch.device(case.device).type != "cuda":
            skipped.append({"option": name, "measured": False, "reason": "N/A on the CPU (a cuDNN setting)"})
            continue
        option_names.append(name)
        runners.append(CaseRunner(f"opt-{name}", case, ours, speed_option(name)))
    say(f"[{case.key}] interleaved: {', '.join(r.variant for r in runners)}")
    load_before = loadavg()
    batch = synthetic_batch(case.workload, plan.seed)
    run_interleaved(runners, batch, plan.warmup, plan.iters, progress=lambda m: say(f"[{case.key}] {m}"))
    load = {"loadavg_before": load_before, "loadavg_after": loadavg()}
    variants = [r.variant for r in runners]
    group = []
    for r in runners:
        rec = make_record(case, r, protocol=_protocol(plan, "compute", variants), flops=flops, peaks=peaks,
                          load=load, provenance=prov, scale_note=scale,
                          implementations_note=skipped if r.variant == "compute" else None)
        if r.variant.startswith("impl-"):
            rec["same_network_check"] = same_network_check(r.model, runners[0].params, case, flops)
        group.append(rec)
    for r in runners:
        r.release()
    base = group[0]
    for rec in group[1:]:
        rec["compared_to"] = compare(rec, base)
    records += group

    # 3. all helpful options together
    if plan.best and len(option_names) > 1:
        helpful = [rec["variant"][4:] for rec in group[1:]
                   if rec["variant"].startswith("opt-") and rec["compared_to"]["ratio_paired_median"] < 1]
        if len(helpful) > 1:
            combined = SpeedOptions()
            for name in helpful:
                combined = replace(combined, **{k: v for k, v in asdict(speed_option(name)).items()
                                                if v != getattr(SpeedOptions(), k)})
            say(f"[{case.key}] opt-best ({combined.label()}) interleaved with compute")
            pair = [CaseRunner("compute", case, ours), CaseRunner("opt-best", case, ours, combined)]
            run_interleaved(pair, batch, plan.warmup, plan.iters)
            recs = [make_record(case, r, protocol=_protocol(plan, "compute", ["compute", "opt-best"]), flops=flops,
                                peaks=peaks, load={"loadavg_before": load_before, "loadavg_after": loadavg()},
                                provenance=prov, scale_note=scale) for r in pair]
            best = recs[1]
            best["compared_to"] = compare(best, recs[0])
            best["compared_to"]["note"] = "against its own interleaved eager-fp32 run (not written as a record)"
            records.append(best)
            for r in pair:
                r.release()
    return records


def compare(record: dict, baseline: dict) -> dict:
    """The ratio to the eager-fp32 run measured interleaved with this one; the baseline's figures are kept here, so
    the ratio stays with the run it came from even when a later run rewrites the compute record."""
    stats, base = record["time"], baseline["time"]
    # the i-th measured time of every runner of an interleaved group comes from the same round: a per-round ratio
    # cancels load that drifts from round to round
    rounds = [t / b for t, b in zip(stats["times"], base["times"])]
    return {"variant": baseline["variant"], "label": baseline["options"]["label"],
            "implementation": baseline["implementation"], "ratio_mean": stats["mean"] / base["mean"],
            "ratio_median": stats["median"] / base["median"],
            "ratio_paired_median": statistics.median(rounds) if rounds else None, "round_ratios": rounds,
            "baseline": {"mean": base["mean"], "std": base["std"], "median": base["median"], "n": base["n"],
                         "times": base["times"], "memory_mib": baseline["memory"]["mib"],
                         "params": baseline["params"], "mfu": baseline["mfu"]["mfu"], "created": baseline["created"]},
            "meaning": f"this variant's s/iter / {baseline['variant']}'s, measured interleaved (< 1: faster)"}


def make_record(case: BenchCase, runner: CaseRunner, *, protocol: dict, flops: dict, peaks: dict,
                data: dict | None = None, loader: dict | None = None,
                load: dict | None = None, provenance: dict | None = None, implementations_note: list | None = None,
                scale_note: str = "") -> dict:
    """The JSON record of one (setting, device, variant)."""
    stats = runner.time_stats()
    record = {
        "schema": SCHEMA,
        "kind": "speed",
        "case": case.key,
        "setting": case.setting,
        "seed_row": case.seed_row,
        "model": case.model,
        "sampler": case.sampler,
        "frames": case.frames,
        "device": torch.device(case.device).type,
        "device_name": environment.describe_device(torch.device(case.device)),
        "variant": runner.variant,
        "implementation": runner.impl.name,
        "implementation_version": runner.impl.version,
        "implementation_note": runner.impl.note,
        "params": runner.params,
        "options": asdict(runner.options) | {"label": runner.options.label()},
        "input": {"batch": case.batch, "published_batch": case.published_batch, "input_size": case.input_size,
                  "published_input_size": 224, "shape": list(case.input_shape),
                  **(loader or {"source": "preloaded batch on the device (normalised float)"})},
        "protocol": protocol,
        "time": stats,
        "data": data,
        "memory": runner.memory,
        "flops": flops,
        "mfu": mfu(stats["mean"], flops, peaks, runner.options.amp),
        "peaks": peaks,
        "compared_to": None,
        "published": case.published(),
        "load": load,
        "note": "; ".join(n for n in (scale_note, case.note) if n),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "provenance": provenance,
    }
    if implementations_note is not None:
        record["implementations"] = implementations_note
    return record
