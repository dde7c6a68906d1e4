"""ActionBook: an executable reproducibility book for video action recognition."""

import os

# OpenMP threads that busy-wait for a descheduled sibling turn a 0.3 s training step into seconds whenever another
# process shares the cores (measured: a tsn_r18 step, median 5.7 s with the default wait policy, 0.26 s with
# PASSIVE, beside one busy process on 2 cores). It must be set before torch loads its OpenMP runtime: importing
# actionbook first does that; a value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
