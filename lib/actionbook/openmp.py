"""How OpenMP threads wait between parallel regions, set for every process before torch loads its OpenMP runtime.

A CPU training step opens about a thousand parallel regions (each convolution, batch norm and optimizer kernel).
Between two of them torch's worker threads wait. libgomp (the OpenMP runtime of torch's Linux wheels) spins for
300,000 iterations before it sleeps, unless told otherwise; `OMP_WAIT_POLICY=PASSIVE` sleeps at once. Measured on a
2-core machine (issue 19):

- quiet machine, the same step in three processes interleaved (`actionbook bench --steps`): 1,000 spins took
  0.89-1.01x libgomp's default time (a few percent slower); PASSIVE made every region pay a futex wake-up and the
  proxy profile took 1148 s against 771 s with 1,000 spins;
- beside one busy process, a proxy tsn_r18 step: 149-172 ms with 1,000 spins, 285 ms with the default, 128-148 ms
  with PASSIVE; two training processes at once: 159, 296-312 and 143 ms each.

So threads spin for 1,000 iterations (about 23 us on this project's AMD EPYC, where the PAUSE in each iteration
takes 23 ns; the same count is another time on another CPU: long enough for most regions of a step to follow, too
short to steal a busy sibling's core for long), then sleep. A user's own `OMP_WAIT_POLICY` or `GOMP_SPINCOUNT` wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# The variables that decide how libgomp's threads wait; the first two are read once, when the runtime loads.
OPENMP_WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
OPENMP_DEFAULTS = {"GOMP_SPINCOUNT": "1000"}


def openmp_defaults(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The OpenMP settings to add to `environ` for a process that has not loaded torch yet: ours, unless `environ`
    already says how threads wait."""
    if any(name in environ for name in OPENMP_WAIT_VARIABLES):
        return {}
    return dict(OPENMP_DEFAULTS)


def openmp_settings(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """How this process's OpenMP threads wait, for records: each wait variable's value, or 'unset'."""
    return {name: environ.get(name, "unset") for name in OPENMP_WAIT_VARIABLES}
