"""ActionBook: an executable reproducibility book for video action recognition."""

import os

from actionbook.openmp import openmp_defaults

# How OpenMP threads wait (`actionbook.openmp`): it must be set before torch loads its OpenMP runtime, which
# importing actionbook first does; a value set by the user wins.
os.environ.update(openmp_defaults(os.environ))

__version__ = "0.1.0"
