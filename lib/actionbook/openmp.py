"""How OpenMP threads wait between parallel regions, set for every process before torch loads its OpenMP runtime.

A CPU training step opens about a thousand parallel regions (each convolution, batch norm and optimizer kernel, and
several inside one oneDNN convolution). Between two of them torch's worker threads wait. libgomp (the OpenMP runtime
of torch's Linux wheels) spins for 300,000 iterations before it sleeps, unless told otherwise; `OMP_WAIT_POLICY=
PASSIVE` sleeps at once. A spin is one PAUSE instruction, 23 ns on this project's AMD EPYC (another time on another
CPU). Measured on a 2-core machine (issue 19):

- what a step waits for: the gaps between regions (Python between kernels, the autograd engine, the serial set-up
  inside a oneDNN call) are mostly 23-92 us. An s3d_r18 step put a thread to sleep (a context switch) about 270 times
  with 1,000 spins, 100 times with 2,000, 17 with 4,000 and 5 with 8,000; each sleep costs the next region a wake-up
  of 30-40 us. On a quiet machine 4,000 spins took 0.86-0.91x the step time of 1,000 (tsn_r18 and s3d_r18, two
  processes interleaved, twice); PASSIVE made every region pay a wake-up (the proxy profile took 1148 s against 771 s
  with 1,000 spins);
- beside one busy process, spinning takes the shared core from it and our waiting thread loses its turn: against
  1,000 spins, 2,000 took 1.15-1.16x as long and 4,000 1.35-1.52x (tsn_r18 173 ms, s3d_r18 271 ms with 1,000);
  libgomp's default took a tsn_r18 step from 149-172 ms to 285 ms, PASSIVE to 128-148 ms.

So the wait is chosen when the process starts: 4,000 spins (about 92 us here: the step's gaps are bridged) on a
quiet machine, 1,000 (about 23 us: a shared core is given back quickly) where another task is already running.
Work that starts later, beside a process that chose 4,000, costs it the figures above; set `GOMP_SPINCOUNT=1000` (or
`OMP_WAIT_POLICY=PASSIVE`) on a machine you share. A user's own `OMP_WAIT_POLICY` or `GOMP_SPINCOUNT` wins, and
records keep the setting. The spin does not change a result, only when threads sleep.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping

# The variables that decide how libgomp's threads wait; both are read once, when the runtime loads.
OPENMP_WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
OPENMP_QUIET = {"GOMP_SPINCOUNT": "4000"}  # nothing else running: bridge the step's gaps
OPENMP_BUSY = {"GOMP_SPINCOUNT": "1000"}  # a core shared with other work: give it back soon


def _read_loadavg() -> str:
    with open("/proc/loadavg") as f:
        return f.read()


def others_running(read: Callable[[], str] = _read_loadavg, samples: int = 5, interval_s: float = 0.001) -> float:
    """How many tasks besides this one are running: the median, over `samples` reads, of the running count in
    /proc/loadavg (its fourth field, 'running/total', counts the reader itself)."""
    counts = []
    for i in range(samples):
        if i:
            time.sleep(interval_s)
        counts.append(int(read().split()[3].split("/")[0]) - 1)
    return statistics.median(counts)


def machine_busy(read: Callable[[], str] = _read_loadavg) -> bool:
    """Whether another task runs now; True where that cannot be read (the short spin is the safe choice)."""
    try:
        return others_running(read) >= 1
    except (OSError, ValueError, IndexError):
        return True


def openmp_defaults(environ: Mapping[str, str] = os.environ, busy: bool | None = None) -> dict[str, str]:
    """The OpenMP settings to add to `environ` for a process that has not loaded torch yet: the quiet or the busy
    machine's wait (`busy`, looked up when None), unless `environ` already says how threads wait."""
    if any(name in environ for name in OPENMP_WAIT_VARIABLES):
        return {}
    if busy is None:
        busy = machine_busy()
    return dict(OPENMP_BUSY if busy else OPENMP_QUIET)


def openmp_settings(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """How this process's OpenMP threads wait, for records: each wait variable's value, or 'unset'."""
    return {name: environ.get(name, "unset") for name in OPENMP_WAIT_VARIABLES}
