"""Launching a run on several processes and machines: PyTorch's own launcher (torchrun, elastic, c10d rendezvous)
and the SLURM batch script a lab submits as is.

The world is `nnodes x nproc` processes (Experiment fields: they decide how each global batch is shared). Where
the nodes meet and how often a failed world is restarted are properties of the launch, not of the run: they come
from the command line (`--rdzv-endpoint`, `--rdzv-id`, `--max-restarts`) or, for runs started through a notebook
(`actionbook run`), from the environment variables those flags set (ACTIONBOOK_RDZV_ENDPOINT, ...). One node without
an endpoint runs `torchrun --standalone`. After a failure torchrun restarts every process of the world (up to
`max_restarts` times) and the trainer resumes from the run folder's last checkpoint, to the bit.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass

from actionbook.errors import ConfigError
from actionbook.experiment import Experiment, parse_overrides
from actionbook.train.accumulate import micro_batch_size

ENV = {"rdzv_endpoint": "ACTIONBOOK_RDZV_ENDPOINT", "rdzv_id": "ACTIONBOOK_RDZV_ID",
       "max_restarts": "ACTIONBOOK_MAX_RESTARTS"}
DEFAULT_PORT = 29500
# Workers get a store of their own each restart round instead of sharing the rendezvous store: with the shared one
# a restarted world can read the addresses of the previous round (each agent counts its own restarts) and its
# processes fail to connect (pytorch/pytorch#135712; seen here with torch 2.14.1, gloo over the loopback).
TORCHRUN_ENV = {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}


@dataclass(frozen=True)
class Launch:
    """Where the nodes meet (host:port of a node every node reaches), the job's name there, and the restarts."""

    rdzv_endpoint: str | None = None
    rdzv_id: str = "actionbook"
    max_restarts: int = 0

    @classmethod
    def from_values(cls, rdzv_endpoint=None, rdzv_id=None, max_restarts=None) -> Launch:
        """Given values, else the environment's, else the defaults; a bad value is a one-line ConfigError."""
        endpoint = rdzv_endpoint or os.environ.get(ENV["rdzv_endpoint"]) or None
        restarts = max_restarts if max_restarts is not None else os.environ.get(ENV["max_restarts"], "0")
        try:
            restarts = int(restarts)
        except ValueError:
            raise ConfigError(f"max_restarts must be a whole number (0 or more), got {restarts!r}") from None
        if restarts < 0:
            raise ConfigError(f"max_restarts must be 0 or more, got {restarts}")
        if endpoint is not None:
            host, _, port = endpoint.rpartition(":")
            if not host or not port.isdigit():
                raise ConfigError(f"rdzv_endpoint must be host:port (a node every node reaches, e.g. "
                                  f"node001:{DEFAULT_PORT}), got {endpoint!r}")
        return cls(endpoint, rdzv_id or os.environ.get(ENV["rdzv_id"]) or "actionbook", restarts)

    def environment(self) -> dict[str, str]:
        """The variables that carry this launch to a process started later (a notebook's `actionbook train`)."""
        values = {"rdzv_endpoint": self.rdzv_endpoint, "rdzv_id": self.rdzv_id, "max_restarts": self.max_restarts}
        return {ENV[k]: str(v) for k, v in values.items() if v is not None}


def needs_torchrun(exp: Experiment, launch: Launch) -> bool:
    """More than one process, or a restart policy (which only torchrun's agent applies)."""
    return exp.nnodes * exp.nproc > 1 or launch.max_restarts > 0


def torchrun_command(exp: Experiment, launch: Launch, argv: list[str]) -> list[str]:
    """`python -m torch.distributed.run ... -m actionbook.cli <argv>` for this node."""
    if exp.nnodes > 1 and not launch.rdzv_endpoint:
        raise ConfigError(f"nnodes={exp.nnodes} needs --rdzv-endpoint host:port (a node every node reaches; under "
                          "SLURM the first node of the job, see `actionbook slurm`)")
    if launch.rdzv_endpoint:
        where = [f"--nnodes={exp.nnodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={launch.rdzv_endpoint}",
                 f"--rdzv-id={launch.rdzv_id}"]
    else:
        where = ["--standalone", "--nnodes=1"]
    return [sys.executable, "-m", "torch.distributed.run", *where, f"--nproc-per-node={exp.nproc}",
            f"--max-restarts={launch.max_restarts}", "-m", "actionbook.cli", *argv]


def add_launch_arguments(parser) -> None:
    """--nnodes and --nproc-per-node (shorthands of --set nnodes=N --set nproc=M), --rdzv-endpoint, --rdzv-id and
    --max-restarts, for `actionbook train` and `actionbook run`."""
    parser.add_argument("--nnodes", type=int, help="nodes of a multi-node run (--set nnodes=N)")
    parser.add_argument("--nproc-per-node", type=int, help="processes (GPUs) per node (--set nproc=N)")
    parser.add_argument("--rdzv-endpoint", metavar="HOST:PORT",
                        help=f"rendezvous of a multi-node run: a node every node reaches (env {ENV['rdzv_endpoint']})")
    parser.add_argument("--rdzv-id", help=f"the job's name at the rendezvous, the same on every node "
                                          f"(default: actionbook; env {ENV['rdzv_id']})")
    parser.add_argument("--max-restarts", type=int,
                        help="restart the whole world after a failure up to N times, resuming from the last "
                             f"checkpoint (env {ENV['max_restarts']})")


def launch_from_args(args) -> Launch:
    return Launch.from_values(args.rdzv_endpoint, args.rdzv_id, args.max_restarts)


def set_items(args) -> list[str]:
    """The command's `--set` items with --nnodes and --nproc-per-node added as such."""
    counts = {"nnodes": args.nnodes, "nproc": args.nproc_per_node}
    return [*(args.set or []), *(f"{k}={v}" for k, v in counts.items() if v is not None)]


# ---- SLURM ----------------------------------------------------------------------------------------------------

SLURM_TEMPLATE = """#!/bin/bash
# {name}: {nnodes} node(s) x {gpus} GPU(s), global batch {batch} ({accumulate}).
# Submit with `sbatch {script}`; written by `actionbook slurm`. srun starts one `actionbook train` per node,
# each starts torchrun, which starts one process per GPU; they meet at the first node of the job (c10d).
#SBATCH --job-name={job}
#SBATCH --nodes={nnodes}
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node={gpus}
#SBATCH --cpus-per-task={cpus}
#SBATCH --time={time}
#SBATCH --output=slurm-%x-%j.out
#SBATCH --signal=TERM@120
{partition}
set -euo pipefail
cd {project}
head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export ACTIONBOOK_RDZV_ENDPOINT="$head_node:{port}"
export ACTIONBOOK_RDZV_ID="actionbook-$SLURM_JOB_ID"
export ACTIONBOOK_MAX_RESTARTS={restarts}
export TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1  # a fresh store for each restart (pytorch/pytorch#135712)
# a pre-empted or timed-out job resumes from {run_dir}/checkpoints/last.pt when submitted again
srun --kill-on-bad-exit=1 {command}
"""


def slurm_script(exp: Experiment, params: str, run_dir: str, overrides: list[str], *, time: str = "24:00:00",
                 partition: str | None = None, cpus_per_gpu: int = 8, max_restarts: int = 3,
                 port: int = DEFAULT_PORT, script: str = "job.sbatch") -> str:
    """The batch script for `exp` on exp.nnodes nodes of exp.nproc GPUs each."""
    argv = [sys.executable, "-m", "actionbook.cli", "train", params, "--run-dir", run_dir, "--quiet",
            *(f"--set={kv}" for kv in overrides)]
    world = exp.nnodes * exp.nproc
    accumulate = f"{world} processes x {micro_batch_size(exp, world)} clips x {exp.accumulate_steps} micro-batches"
    return SLURM_TEMPLATE.format(
        name=exp.name or exp.model, nnodes=exp.nnodes, gpus=exp.nproc, batch=exp.batch_size, accumulate=accumulate,
        script=script, job=shlex.quote((exp.name or exp.model)[:64]), cpus=cpus_per_gpu * exp.nproc, time=time,
        run_dir=run_dir, partition=f"#SBATCH --partition={partition}" if partition else "",
        project=shlex.quote(os.getcwd()), port=port, restarts=max_restarts, command=shlex.join(argv))


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("slurm", help="print the SLURM batch script of a multi-node run (srun + torchrun)")
    parser.add_argument("params", help="a params/*.yaml file")
    parser.add_argument("--run-dir", required=True, help="run folder on a file system every node sees")
    parser.add_argument("--nnodes", type=int, required=True, help="nodes")
    parser.add_argument("--gpus-per-node", type=int, required=True, help="GPUs (processes) per node")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                        help="override a parameter (repeatable), e.g. accumulate_steps=2")
    parser.add_argument("--time", default="24:00:00", help="the job's time limit (SLURM's --time)")
    parser.add_argument("--partition", help="SLURM partition")
    parser.add_argument("--cpus-per-gpu", type=int, default=8, help="CPU cores per GPU (loader workers)")
    parser.add_argument("--max-restarts", type=int, default=3, help="whole-world restarts after a failure")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="rendezvous port on the first node")
    parser.add_argument("--output", help="write the script here instead of printing it")
    parser.set_defaults(func=_slurm)


def _slurm(args) -> int:
    overrides = [*args.set, f"nnodes={args.nnodes}", f"nproc={args.gpus_per_node}"]
    exp = Experiment.from_params(args.params, **parse_overrides(overrides))
    text = slurm_script(exp, args.params, args.run_dir, overrides, time=args.time, partition=args.partition,
                        cpus_per_gpu=args.cpus_per_gpu, max_restarts=args.max_restarts, port=args.port,
                        script=args.output or "job.sbatch")
    if args.output:
        with open(args.output, "w") as file:
            file.write(text)
        print(f"wrote {args.output}: submit it with `sbatch {args.output}`")
    else:
        print(text, end="")
    return 0
