"""ActionBook: an executable reproducibility book for video action recognition."""

__version__ = "0.1.0"
