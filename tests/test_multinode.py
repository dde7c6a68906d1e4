"""Multi-node launch on torchrun: two nodes of one process over the loopback equal one node of two, a killed
process is survived by torchrun's restart with a bit-exact resume, and the SLURM script is one a shell accepts."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from actionbook.errors import ConfigError
from actionbook.experiment import Experiment
from actionbook.runs import read_record
from actionbook.train.launch import Launch, slurm_script, torchrun_command
from conftest import tiny_kinetics_set


@pytest.fixture(scope="module")
def tiny_kinetics(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "synth-kinetics"
    tiny_kinetics_set(root, train_per_class=8, val_per_class=2, seed=1)
    return root


def _experiment(root: Path, **overrides) -> Experiment:
    values = dict(dataset="synth-kinetics", data_root=str(root), model="tsn_r18", frames=4, input_size=32,
                  scale_size=36, batch_size=8, epochs=2, iters_per_epoch=3, lr=0.02, workers=0, device="cpu",
                  seed=3, dropout=0.0, freeze_bn=True, log_every=1)
    values.update(overrides)
    return Experiment.from_dict(values)


def _params(tmp_path: Path, exp: Experiment, name: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(exp.to_dict()))
    return str(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node(params: str, run_dir: Path, *launch: str, core: int | None = None) -> subprocess.Popen:
    """One node's `actionbook train` (it starts torchrun, which starts the node's processes); `core`: the node's
    only core, as a node of a one-core machine (the trainer sizes its threads by the cores it may use)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    pin = None if core is None else (lambda: os.sched_setaffinity(0, {core}))
    return subprocess.Popen([sys.executable, "-m", "actionbook.cli", "train", params, "--run-dir", str(run_dir),
                             "--quiet", *launch], env=env, start_new_session=True, preexec_fn=pin)


def _two_nodes(params: str, run_dir: Path, *extra: str) -> list[subprocess.Popen]:
    """Two one-core nodes over the loopback: with one process each they compute what one node's two processes
    compute on two cores (one thread each)."""
    endpoint, cores = f"127.0.0.1:{_free_port()}", sorted(os.sched_getaffinity(0))
    return [_node(params, run_dir, "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-endpoint", endpoint,
                  "--rdzv-id", run_dir.name, *extra, core=cores[i % len(cores)]) for i in range(2)]


def _weights(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]


def _wait(nodes: list[subprocess.Popen], timeout: float = 240) -> list[int]:
    try:
        return [node.wait(timeout=timeout) for node in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def two_node_run(tiny_kinetics, tmp_path_factory) -> tuple[Experiment, Path]:
    tmp = tmp_path_factory.mktemp("two-nodes")
    exp = _experiment(tiny_kinetics, nnodes=2, nproc=1)
    run_dir = tmp / "two-nodes"
    assert _wait(_two_nodes(_params(tmp, exp, "two"), run_dir)) == [0, 0]
    return exp, run_dir


def test_torchrun_command_of_one_node_and_of_many():
    exp = Experiment.from_dict(dict(model="tsn_r18", dataset="synth-kinetics", batch_size=8, nproc=2))
    one = torchrun_command(exp, Launch(), ["train", "p.yaml"])
    assert "--standalone" in one and "--nproc-per-node=2" in one and one[-3:] == ["actionbook.cli", "train", "p.yaml"]
    many = torchrun_command(exp.replace(nnodes=2), Launch("node001:29500", "job7", 3), ["train"])
    assert {"--nnodes=2", "--rdzv-backend=c10d", "--rdzv-endpoint=node001:29500", "--rdzv-id=job7",
            "--max-restarts=3"} <= set(many) and "--standalone" not in many
    with pytest.raises(ConfigError, match="nnodes=2 needs --rdzv-endpoint"):
        torchrun_command(exp.replace(nnodes=2), Launch(), ["train"])
    with pytest.raises(ConfigError, match="host:port"):
        Launch.from_values("node001")


def test_the_environment_carries_a_launch(monkeypatch):
    launch = Launch("10.0.0.1:29400", "job9", 2)
    for key, value in launch.environment().items():
        monkeypatch.setenv(key, value)
    assert Launch.from_values() == launch


def test_two_nodes_of_one_process_equal_one_node_of_two(tiny_kinetics, two_node_run, tmp_path):
    exp, two_nodes = two_node_run
    one_node = tmp_path / "one-node"
    assert _wait([_node(_params(tmp_path, exp.replace(nnodes=1, nproc=2), "one"), one_node)]) == [0]
    record = read_record(two_nodes)
    assert record["status"] == "completed" and record["provenance"]["world_size"] == 2
    a, b = _weights(one_node), _weights(two_nodes)
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same world of two processes, whoever started them
    metrics = lambda history: [{k: v for k, v in h.items() if not k.startswith("mean_")} for h in history]  # noqa: E731
    assert metrics(read_record(one_node)["history"]) == metrics(record["history"])


def test_slurm_script_is_valid_bash_and_starts_one_train_per_node(tiny_kinetics, tmp_path):
    exp = _experiment(tiny_kinetics, nnodes=4, nproc=2, accumulate_steps=1)
    text = slurm_script(exp, "params/x.yaml", "runs/x", ["nnodes=4", "nproc=2"], partition="gpu")
    for line in ("#SBATCH --nodes=4", "#SBATCH --gpus-per-node=2", "#SBATCH --ntasks-per-node=1",
                 "#SBATCH --partition=gpu", "export ACTIONBOOK_MAX_RESTARTS=3"):
        assert line in text.splitlines()
    assert "--set=nnodes=4 --set=nproc=2" in text and "8 processes x 1 clips" in text
    script = tmp_path / "job.sbatch"
    script.write_text(text)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.slow
def test_a_killed_node_process_is_restarted_and_resumes_bit_exactly(tiny_kinetics, two_node_run, tmp_path):
    """SIGKILL of the second node's trainer after its second step: torchrun restarts the world, which resumes from
    the last checkpoint (one per step here) and ends where the uninterrupted run ended, to the bit."""
    exp, uninterrupted = two_node_run
    run_dir = tmp_path / "killed"
    nodes = _two_nodes(_params(tmp_path, exp, "two"), run_dir, "--max-restarts", "1", "--set", "checkpoint_every=1")
    metrics, deadline = run_dir / "metrics.jsonl", time.time() + 180
    while not (metrics.is_file() and metrics.read_text().count('"kind": "iter"') >= 2):
        assert time.time() < deadline and nodes[1].poll() is None
        time.sleep(0.05)
    agent = _children(nodes[1].pid)  # node 2: actionbook train -> torchrun -> its trainer
    [trainer] = _children(agent[0])
    os.kill(trainer, signal.SIGKILL)
    assert _wait(nodes) == [0, 0]
    assert read_record(run_dir)["status"] == "completed"
    a, b = _weights(uninterrupted), _weights(run_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_sigterm_to_the_launching_command_reaches_the_trainers(tiny_kinetics, tmp_path):
    """A scheduler (or a notebook's interrupt) signals `actionbook train`, not torchrun: it passes SIGTERM on, and
    the trainers stop with a checkpoint and an "interrupted" record instead of being orphaned; the same command
    then resumes the run to its end."""
    exp = _experiment(tiny_kinetics, nproc=2, epochs=4, checkpoint_every=1)
    run_dir = tmp_path / "run"
    node = _node(_params(tmp_path, exp, "two"), run_dir)
    metrics, deadline = run_dir / "metrics.jsonl", time.time() + 180
    while not (metrics.is_file() and metrics.read_text().count('"kind": "iter"') >= 1):
        assert time.time() < deadline and node.poll() is None
        time.sleep(0.05)
    agents = _children(node.pid)
    node.send_signal(signal.SIGTERM)
    _wait([node])  # torchrun itself exits 1 after a signal, once its processes have ended
    assert read_record(run_dir)["status"] == "interrupted"
    assert agents and not any(Path(f"/proc/{pid}").exists() for pid in agents)  # torchrun ended with it
    assert _wait([_node(_params(tmp_path, exp, "two"), run_dir)]) == [0]
    assert read_record(run_dir)["status"] == "completed"
