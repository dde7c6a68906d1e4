"""Peak memory of a stretch of training iterations, on a GPU or the CPU (the protocol is in measure/speed.py)."""

from __future__ import annotations

import ctypes
import gc
import threading
from pathlib import Path

import torch


def _proc_status_mib(field_name: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class MemoryMeter:
    """Peak memory of a stretch of iterations, relative to a baseline taken before the runner was built."""

    def __init__(self, device: torch.device):
        self.device = device
        self.baseline = 0.0
        self.cpu_method = "VmHWM reset via /proc/self/clear_refs"
        self._sampled_peak = 0.0
        self._sampler = None

    @property
    def kind(self) -> str:
        if self.device.type == "cuda":
            return "cuda max_memory_allocated (MiB), peak reset after warm-up, minus memory allocated before the " \
                   "runner was built"
        return ("cpu peak RSS growth (MiB): peak resident set during the measured iterations minus the resident set "
                f"before the runner was built (freed heap returned first with malloc_trim); {self.cpu_method}; "
                "main process only")

    def _current(self) -> float:
        if self.device.type == "cuda":
            return torch.cuda.memory_allocated(self.device) / 2**20
        return _proc_status_mib("VmRSS") or 0.0

    def set_baseline(self) -> float:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
        else:
            _malloc_trim()
        self.baseline = self._current()
        return self.baseline

    def reset_peak(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        _malloc_trim()
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.cpu_method = "resident set sampled every 2 ms (clear_refs unavailable)"
            self._start_sampler()

    def _start_sampler(self) -> None:
        self._sampled_peak = self._current()
        stop = threading.Event()

        def sample():
            while not stop.wait(0.002):
                self._sampled_peak = max(self._sampled_peak, self._current())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        self._sampler = (stop, thread)

    def peak(self) -> dict:
        """{'mib': peak - baseline, 'raw_peak_mib', 'baseline_mib', 'kind'}."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            raw = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self._sampler is not None:
            stop, thread = self._sampler
            stop.set()
            thread.join()
            self._sampler = None
            raw = self._sampled_peak
        else:
            raw = _proc_status_mib("VmHWM") or 0.0
        return {"mib": raw - self.baseline, "raw_peak_mib": raw, "baseline_mib": self.baseline, "kind": self.kind}
