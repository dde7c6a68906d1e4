"""The trainer: one loop for one CPU, one GPU or many (torchrun + DDP), resumable to the bit.

The trainer executes a `TrainingPlan` (actionbook.plan: the experiment with its datasets built and its size
counted, once). Read `Trainer.fit` top to bottom: lock the run folder, resume, then per epoch train -> validate ->
checkpoint, then the multi-view test and the final record. Randomness is arranged so a resumed run repeats an
uninterrupted one exactly: the sample order depends on (seed, epoch), each sample's augmentation on (seed, epoch,
index) (see actionbook.data), and the global generators are saved in every checkpoint.

The record is rebuilt from what is on disk: every checkpoint carries the record's history, metrics and bad-file
counts as of that moment, and a mid-epoch checkpoint the epoch's running train statistics. Resuming at any moment
(mid-epoch, after the last epoch, during the test, or to re-run a finished run with a run-neutral change) gives the
record of the uninterrupted run. SIGTERM or SIGINT stops at the next training iteration or evaluation batch into a
resumable, "interrupted" run.
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import threading
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from actionbook import data, runs
from actionbook.errors import ConfigError
from actionbook.experiment import Experiment, changed_fields
from actionbook.measure.environment import provenance
from actionbook.measure.fastpath import (
    apply_thread_policy,
    channels_last_default,
    keep_freed_memory,
    loader_workers,
    to_channels_last,
)
from actionbook.models import build_model, model_entry
from actionbook.models.pretrained import load_imagenet
from actionbook.plan import TrainingPlan, build_plan, check_data
from actionbook.train import checkpoint as ckpt
from actionbook.train.accumulate import batch_layout, forward_backward, grouped, micro_batch_size
from actionbook.train.distributed import (
    DistContext,
    ShardedBatchSampler,
    all_gather_objects,
    barrier,
    broadcast_flag,
    cleanup,
    setup,
)
from actionbook.train.evaluate import EvaluationStopped, evaluate
from actionbook.train.optim import build_optimizer, lr_at, set_lr


class TrainingFailed(RuntimeError):
    """The run cannot go on (non-finite loss, too many bad files); its record says why."""


class Trainer:
    """Executes one plan into one run folder; `ctx` is the process group's context (set up here if not given)."""

    def __init__(self, plan: TrainingPlan, run_dir: str | Path, progress: bool = True, ctx: DistContext | None = None):
        self.plan = plan
        self.exp = plan.exp
        self.train_set, self.val_set, self.test_set = plan.train_set, plan.val_set, plan.test_set
        self.num_classes = plan.num_classes
        self.run_dir = Path(run_dir)
        self.ctx = ctx or setup(self.exp.device)
        self.progress = progress and self.ctx.is_main
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.stop_requested = False
        self.record: dict = {}
        self.workers = loader_workers(self.exp.workers, self.ctx.device)  # no more than the cores leave room for

    # ---- set-up ---------------------------------------------------------------------------------------------

    def _loader(self, dataset, shuffle: bool, drop_last: bool, accumulate: bool = False):
        """Training (`accumulate`) takes global batches of `batch_size` as accumulate_steps micro-batches per process;
        an evaluation takes batches of one micro-batch per process (what fits on a device)."""
        steps = self.exp.accumulate_steps if accumulate else 1
        micro = micro_batch_size(self.exp, self.ctx.world_size)
        sampler = ShardedBatchSampler(len(dataset), micro * steps * self.ctx.world_size, self.ctx, shuffle,
                                      self.exp.seed, drop_last, micro_batches=steps)
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=sampler, num_workers=self.workers, collate_fn=data.collate_clips,
            worker_init_fn=data.seed_worker, pin_memory=self.ctx.device.type == "cuda",
            # its own generator: starting a loader must not draw from the global one (dropout's), or a resumed
            # run would diverge from an uninterrupted one
            generator=torch.Generator().manual_seed(self.exp.seed))
        return loader, sampler

    def _model(self):
        exp = self.exp
        torch.manual_seed(exp.seed)
        model = build_model(exp.model, num_classes=self.num_classes, frames=exp.frames, **exp.model_options())
        self.entry = model_entry(exp.model)
        self.init_report = {"pretrained": exp.pretrained}
        if exp.pretrained == "imagenet":
            self.init_report["report"] = load_imagenet(model, exp.imagenet_checkpoint, exp.temporal_start).summary()
        elif exp.pretrained != "none":
            state = ckpt.load_checkpoint(exp.pretrained)
            self.init_report["report"] = ckpt.load_matching(model, state.get("model", state))
        if exp.sync_bn:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model.to(self.ctx.device)
        self.channels_last = exp.channels_last
        if self.channels_last is None:  # the family's measured choice at this input size
            self.channels_last = channels_last_default(exp.model, exp.input_size)
        if self.channels_last:
            to_channels_last(model)
        self.model = model  # the bare module: state dicts, evaluation
        wrapped = DistributedDataParallel(model) if self.ctx.distributed else model
        self.ddp = wrapped if self.ctx.distributed else None  # its no_sync() between accumulated micro-batches
        self.forward = torch.compile(wrapped) if exp.compile else wrapped
        self.optimizer = build_optimizer(model, exp)
        self.scaler = torch.amp.GradScaler("cuda") if exp.amp == "fp16" else None

    def _engine(self) -> dict:
        """The fast path this run took (measure/fastpath.py): threads against cores, freed memory kept,
        channels_last, fused steps."""
        threads = allocator = None
        if self.ctx.device.type == "cpu":  # processes of this node share its cores
            threads = apply_thread_policy(self.workers, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
            allocator = keep_freed_memory()
        return {"threads": threads, "allocator": allocator, "channels_last": self.channels_last,
                "fused_optimizer": bool(self.optimizer.defaults.get("fused"))}

    def prepare(self, clips: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> normalised float on the device (normalising there is cheaper than in the workers)."""
        return data.to_model_input(clips, self.entry.mean, self.entry.std, self.ctx.device, self.channels_last)

    def _autocast(self):
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.exp.amp)
        return torch.autocast(self.ctx.device.type, dtype=dtype, enabled=dtype is not None)

    def _set_train_mode(self) -> None:
        self.model.train()
        if self.exp.freeze_bn:
            for m in self.model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

    # ---- checkpoints ----------------------------------------------------------------------------------------
    @property
    def ckpt_dir(self) -> Path:
        return runs.checkpoint_dir(self.run_dir)

    def _save(self, epoch: int, batch: int, running: dict | None = None) -> None:
        """last.pt at (epoch, batch): weights, optimiser, every rank's random state, running train statistics and
        bad-file counts, and the record's history and metrics as of now."""
        per_rank = all_gather_objects(self.ctx, {"rng": ckpt.rng_states(), "running": running,
                                                 "bad_files": _tracker_state(self.bad_files)})
        if not self.ctx.is_main:
            return
        ckpt.save_checkpoint(runs.checkpoint_file(self.run_dir, "last"), {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "epoch": epoch, "batch": batch, "step": self.step, "best_top1": self.best_top1,
            "best_epoch": self.best_epoch, "history": self.history, "num_classes": self.num_classes,
            "rng": [r["rng"] for r in per_rank], "running": [r["running"] for r in per_rank],
            "bad_files": [r["bad_files"] for r in per_rank],
            "record": {k: self.record[k] for k in ("metrics", "history", "bad_files", "timings") if k in self.record},
            "experiment": self.exp.to_dict()})

    def _mark_best(self) -> None:
        """best.pt becomes a hard link to last.pt, swapped in atomically: it is the old best or the new, never none."""
        if self.ctx.is_main:
            last, best = runs.checkpoint_file(self.run_dir, "last"), runs.checkpoint_file(self.run_dir, "best")
            tmp = best.with_name(best.name + ".tmp")
            tmp.unlink(missing_ok=True)
            os.link(last, tmp)
            os.replace(tmp, best)

    def _resume(self) -> tuple[int, int]:
        path = runs.checkpoint_file(self.run_dir, "last")
        if not path.is_file():
            self._truncate_log(0)  # lines of a start killed before its first checkpoint
            return 0, 0
        state = ckpt.load_checkpoint(path)
        changed = changed_fields(state["experiment"], self.exp.to_dict())
        if changed:
            raise ConfigError(f"{self.run_dir} holds a run with other parameters ({', '.join(changed)}); "
                              "use a new --run-dir or restore them")
        if state.get("num_classes", self.num_classes) != self.num_classes:
            raise ConfigError(f"{self.run_dir} was trained on {state['num_classes']} classes, the data now have "
                              f"{self.num_classes} (data_root {self.exp.data_root}): use the run's dataset")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.best_top1, self.history = state["step"], state["best_top1"], state["history"]
        self.best_epoch = state.get("best_epoch")
        ckpt.restore_rng_states(state["rng"][self.ctx.rank])
        self.running = (state.get("running") or [None] * self.ctx.world_size)[self.ctx.rank]
        _restore_tracker(self.bad_files, (state.get("bad_files") or [None] * self.ctx.world_size)[self.ctx.rank])
        self.record.update(state.get("record") or {})
        epoch, batch = state["epoch"], state["batch"]
        best = runs.checkpoint_file(self.run_dir, "best")
        if batch == 0 and self.best_epoch == epoch and self.ctx.is_main and not (
                best.is_file() and os.path.samefile(best, path)):
            self._mark_best()  # killed between saving the new best epoch and linking it
        self._truncate_log(self.step)
        return epoch, batch

    # ---- logging and the record -----------------------------------------------------------------------------
    def _log(self, line: dict) -> None:
        if self.ctx.is_main:
            with open(runs.metrics_path(self.run_dir), "a") as f:
                f.write(json.dumps(line) + "\n")

    def _truncate_log(self, step: int) -> None:
        """Lines written after the checkpoint we resume from (or before a first one) would be written again: drop
        them."""
        path = runs.metrics_path(self.run_dir)
        if self.ctx.is_main and path.is_file():
            keep = [ln for ln in path.read_text().splitlines() if json.loads(ln).get("step", 0) <= step]
            path.write_text("".join(ln + "\n" for ln in keep))

    def _write_record(self, status: str, reason: str | None = None, **extra) -> None:
        if not self.ctx.is_main:
            return
        self.record.update({
            "schema": 1, "status": status, "reason": reason, "experiment": self.exp.to_dict(),
            "run_dir": str(self.run_dir), "started": self.started,
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "provenance": provenance(self.ctx.world_size, self.exp.seed), **extra})
        runs.write_record(self.run_dir, self.record)

    def _memory_mib(self) -> float:
        if self.ctx.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.ctx.device) / 2**20
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak RSS of this process

    # ---- the loop -------------------------------------------------------------------------------------------
    def fit(self) -> dict:
        """Train (or resume), validate every epoch, test multi-view at the end; returns the run record."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with runs.exclusive(self.run_dir) if self.ctx.is_main else nullcontext():
            return self._fit()

    def _fit(self) -> dict:
        self.step, self.best_top1, self.best_epoch, self.history, self.running = 0, None, None, [], None
        if self.ctx.is_main:
            runs.clear_rank_errors(self.run_dir)  # an earlier attempt's
        previous = self._catch_stop_signals()
        try:
            self._model()
            self.bad_files = data.BadFileTracker(self.exp.bad_file_threshold)
            self.record["complexity"] = self.plan.complexity
            self.record["init"] = self.init_report
            self.record["engine"] = self._engine()
            self.record["batch"] = batch_layout(self.exp, self.ctx.world_size)
            self.record["dataset"] = {"train": self.train_set.fingerprint(), "val": self.val_set.fingerprint()}
            start_epoch, start_batch = self._resume()
            self._write_record("running")
            t0 = time.perf_counter()
            train_loader, train_sampler = self._loader(self.train_set, shuffle=True, drop_last=True, accumulate=True)
            val_loader, _ = self._loader(self.val_set, shuffle=False, drop_last=False)
            iters = self.plan.iters_per_epoch
            for epoch in range(start_epoch, self.exp.epochs):
                self.train_set.set_epoch(epoch)
                train_sampler.set_epoch(epoch, start_batch, iters)
                summary = self._train_epoch(epoch, start_batch, iters, train_loader)
                start_batch = 0
                if summary is None:  # SIGTERM or SIGINT: checkpoint written inside
                    self._write_record("interrupted", self.stop_requested, progress=self._progress(epoch, iters))
                    return self.record
                if (epoch + 1) % self.exp.eval_every and epoch + 1 < self.exp.epochs:
                    self._end_epoch(epoch, iters, summary, None)  # no validation, no checkpoint this epoch
                    continue
                try:
                    val = evaluate(self.model, val_loader, self.ctx, self.prepare, self.num_classes,
                                   self._protocol("val", 1, 1), progress=self._bar("val"),
                                   bad_file_threshold=self.exp.bad_file_threshold, stop=self._stop_asked)
                except EvaluationStopped:  # resumes at this epoch's validation, its training done
                    self._save(epoch, iters, self.epoch_running)
                    self._write_record("interrupted", self.stop_requested, progress=self._progress(epoch, iters))
                    return self.record
                self._end_epoch(epoch, iters, summary, val)
            self.record["timings"] = {**self.record.get("timings", {}), "train_s": time.perf_counter() - t0}
            try:
                self._final_test()
            except EvaluationStopped:  # every epoch is in last.pt: a resume runs the test again
                self._write_record("interrupted", self.stop_requested, progress=self._progress(self.exp.epochs, iters))
                return self.record
            self._write_record("completed", progress=self._progress(self.exp.epochs - 1, iters))
            return self.record
        except Exception as err:
            own = str(err) if isinstance(err, (TrainingFailed, data.TooManyBadFiles, ConfigError)) \
                else f"{type(err).__name__}: {err}"
            self._fail(own)
            raise
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            cleanup(self.ctx)

    def _fail(self, reason: str) -> None:
        """The failed record. Under DDP every rank leaves its own reason in the run folder, and rank 0 records the
        first rank's that is not a broken connection: a rank that died of too many bad files is the cause, the
        others' lost peer only its echo."""
        if self.ctx.distributed:
            runs.write_rank_error(self.run_dir, self.ctx.rank, reason)
        if not self.ctx.is_main:
            return
        if self.ctx.distributed:
            time.sleep(1.0)  # the failing rank writes its reason before its process ends
            reason = runs.first_rank_error(self.run_dir) or reason
        self._write_record("failed", reason)

    def _stop_asked(self) -> bool:
        return bool(self.stop_requested)

    def _catch_stop_signals(self) -> dict:
        """SIGTERM (how schedulers pre-empt) and SIGINT (Ctrl-C, a notebook's interrupt) ask the loop to stop at the
        next iteration with a checkpoint; returns the handlers to put back (none outside the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def stop(signum, frame):
            self.stop_requested = signal.Signals(signum).name

        return {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}

    def _bar(self, desc: str):
        if not self.progress:
            return None
        return lambda it: tqdm(it, desc=desc, leave=False)

    def _protocol(self, split: str, clips: int, crops: int) -> dict:
        e = self.exp
        return {"split": split, "clips": clips, "crops": crops, "frames": e.frames, "sampling": e.sampling,
                "input_size": e.input_size, "dataset": e.dataset}

    def _progress(self, epoch: int, iters: int) -> dict:
        return {"epoch": epoch, "epochs": self.exp.epochs, "iters_per_epoch": iters, "step": self.step}

    def _train_epoch(self, epoch: int, start_batch: int, iters: int, loader) -> dict | None:
        self._set_train_mode()
        fresh = {"loss_sum": 0.0, "correct": 0, "seen": 0, "data_time": 0.0, "iter_time": 0.0}
        running = dict(self.running) if start_batch and self.running else fresh  # this rank's, from before a resume
        self.running = None
        bar = self._bar(f"epoch {epoch + 1}/{self.exp.epochs}")
        batches = enumerate(grouped(loader, self.exp.accumulate_steps), start=start_batch)
        if bar:
            batches = bar(batches)
            batches.total, batches.n = iters, start_batch
        tick = time.perf_counter()
        for batch, micro_batches in batches:
            self.bad_files.update([pair for _, _, bad in micro_batches for pair in bad],
                                  sum(len(labels) for _, labels, _ in micro_batches))
            lr = lr_at(self.exp, epoch, batch, iters)
            set_lr(self.optimizer, lr)
            inputs = [(self.prepare(clips), labels.to(self.ctx.device)) for clips, labels, _ in micro_batches]
            loaded = time.perf_counter()
            self.optimizer.zero_grad(set_to_none=True)
            loss_value, correct, seen = forward_backward(self, inputs)
            if broadcast_flag(self.ctx, not math.isfinite(loss_value)):
                raise TrainingFailed(f"non-finite loss ({loss_value}) at epoch {epoch + 1}, iteration {batch + 1} "
                                     f"(lr {lr:g}); the last good checkpoint is in {self.ckpt_dir}")
            if self.scaler:
                self.scaler.unscale_(self.optimizer)
            if self.exp.clip_gradient:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.exp.clip_gradient)
            if self.scaler:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            self.step += 1
            done = time.perf_counter()
            running["data_time"] += loaded - tick
            running["iter_time"] += done - tick
            running["loss_sum"] += loss_value * seen
            running["correct"] += correct
            running["seen"] += seen
            if self.step % self.exp.log_every == 0 or batch + 1 == iters:
                self._log({"kind": "iter", "step": self.step, "epoch": epoch + 1, "iter": batch + 1,
                           "loss": loss_value, "lr": lr, "data_time": loaded - tick, "iter_time": done - tick,
                           "mem_mib": round(self._memory_mib(), 1)})
            if self.exp.checkpoint_every and self.step % self.exp.checkpoint_every == 0 and batch + 1 < iters:
                self._save(epoch, batch + 1, running)
            if broadcast_flag(self.ctx, self._stop_asked()):
                self._save(epoch, batch + 1, running)
                return None
            tick = time.perf_counter()
        self.epoch_running = running  # what a stop during this epoch's validation checkpoints
        # every rank's sums: the epoch's statistics cover all its batches, on every rank, resumed or not
        totals = {k: sum(r[k] for r in all_gather_objects(self.ctx, running)) for k in ("loss_sum", "correct",
                                                                                       "seen")}
        return {"train_loss": totals["loss_sum"] / max(totals["seen"], 1),
                "train_top1": 100.0 * totals["correct"] / max(totals["seen"], 1),
                "lr": lr_at(self.exp, epoch, iters - 1, iters), "mean_iter_s": running["iter_time"] / iters,
                "mean_data_s": running["data_time"] / iters}

    def _end_epoch(self, epoch: int, iters: int, summary: dict, val: dict | None) -> None:
        """The epoch's history line and record; an epoch with a validation (`val`, every `eval_every`) also ends in a
        checkpoint and may become the best."""
        entry = {"epoch": epoch + 1, **summary, "val_top1": val and val["top1"], "val_top5": val and val["top5"],
                 "val_mean_class_acc": val and val["mean_class_acc"]}
        self.history.append(entry)
        self._log({"kind": "epoch", "step": self.step, **entry})
        improved = val is not None and (self.best_top1 is None or val["top1"] > self.best_top1)
        if improved:
            self.best_top1, self.best_epoch = val["top1"], epoch + 1
        if val is not None:
            self.record["metrics"] = {**self.record.get("metrics", {}), "val": _brief(val),
                                      "best_val_top1": self.best_top1}
        self.record["history"] = self.history
        self.record["bad_files"] = self._bad_file_summary()
        self.record["timings"] = {"mean_iter_s": summary["mean_iter_s"], "mean_data_s": summary["mean_data_s"],
                                  "peak_memory_mib": self._memory_mib(),
                                  "memory_kind": "cuda max allocated" if self.ctx.device.type == "cuda"
                                  else "peak RSS of rank 0"}
        if val is not None:
            if self.ctx.is_main:
                runs.write_eval(self.run_dir, "val", val)
            self._save(epoch + 1, 0)
        if improved:
            self._mark_best()
        self._write_record("running", progress=self._progress(epoch, iters))

    def _final_test(self) -> None:
        if self.test_set is None:
            return
        loader, _ = self._loader(self.test_set, shuffle=False, drop_last=False)
        t0 = time.perf_counter()
        test = evaluate(self.model, loader, self.ctx, self.prepare, self.num_classes,
                        self._protocol("val", self.exp.test_clips, self.exp.test_crops), progress=self._bar("test"),
                        bad_file_threshold=self.exp.bad_file_threshold, stop=self._stop_asked)
        self.record["metrics"]["test"] = _brief(test)
        self.record["timings"]["test_s"] = time.perf_counter() - t0
        if self.ctx.is_main:
            runs.write_eval(self.run_dir, "test", test)

    def _bad_file_summary(self) -> dict:
        summaries = all_gather_objects(self.ctx, self.bad_files.summary())
        return summaries[0] if len(summaries) == 1 else {"per_rank": summaries}


def _brief(metrics: dict) -> dict:
    """What the record keeps of an evaluation (per-class accuracy and the confusion matrix go to eval/*.json)."""
    return {k: metrics[k] for k in ("top1", "top5", "mean_class_acc", "samples", "unreadable", "unreadable_files",
                                    "protocol")}


def _tracker_state(tracker: data.BadFileTracker) -> dict:
    return {"items": tracker.items, "bad": tracker.bad, "kinds": dict(tracker.kinds), "files": dict(tracker.files)}


def _restore_tracker(tracker: data.BadFileTracker, state: dict | None) -> None:
    if state:
        tracker.items, tracker.bad, tracker.files = state["items"], state["bad"], dict(state["files"])
        tracker.kinds.update(state["kinds"])


def train(exp: Experiment, run_dir: str | Path, progress: bool = True, plan: TrainingPlan | None = None) -> dict:
    """Run (or resume) `exp` into `run_dir`; returns the run record. A completed run whose computing fields are
    unchanged is returned as it is. Under torchrun every rank calls this; rank 0 makes the data (a synthetic set
    on first use) while the others wait, then each rank builds the plan, unless the caller built it (the notebook,
    one process)."""
    existing = runs.read_record(run_dir)
    if existing and existing.get("status") == "completed" and existing.get("metrics") and not changed_fields(
            existing.get("experiment") or {}, exp.to_dict()):
        return existing
    ctx = setup(exp.device)
    try:
        if plan is None:
            if ctx.is_main:
                check_data(exp)
            barrier(ctx)
            plan = build_plan(exp, prepare_data=False)
    except BaseException:
        cleanup(ctx)
        raise
    return Trainer(plan, run_dir, progress, ctx).fit()
