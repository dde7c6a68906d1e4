"""The device's measured matmul throughput: the ceiling that model FLOP utilisation is held against."""

from __future__ import annotations

import time
from pathlib import Path

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, max_size: int | None = None,
                repeats: int = 5, min_seconds: float = 0.02) -> dict:
    """Measured square-matmul throughput (FLOP/s, 2 n^3 per product): n doubles from 256 until one product takes
    `min_seconds` (or n reaches `max_size`: 2048 on the CPU, 8192 on a GPU), then the best of `repeats`."""
    device = torch.device(device)
    max_size = max_size or (8192 if device.type == "cuda" else 2048)
    n = 256
    while True:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        a @ b
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds or n >= max_size:
            break
        n *= 2
    best = elapsed
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return {"dtype": str(dtype).replace("torch.", ""), "size": n, "flops_per_s": 2 * n**3 / best, "seconds": best}


def device_peaks(device: str | torch.device) -> dict:
    """fp32 and bf16 matmul peaks (and tf32 on GPUs); bf16 without native CPU support is measured and flagged."""
    device = torch.device(device)
    peaks = {"fp32": matmul_peak(device, torch.float32)}
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            peaks["bf16"] = matmul_peak(device, torch.bfloat16)
        previous = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            peaks["tf32"] = matmul_peak(device, torch.float32)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = previous
    else:
        peaks["bf16"] = matmul_peak(device, torch.bfloat16, max_size=1024)
        native = _cpu_has_native_bf16()
        peaks["bf16"]["native"] = native
        if not native:
            peaks["bf16"]["note"] = "this CPU has no AVX512-BF16/AMX: bf16 arithmetic is emulated"
    return peaks


def _cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in ("avx512_bf16", "amx_bf16"))
