"""What every chapter of the book shares and no study owns: the run index, markdown tables and number formats,
the plot style, and the provenance chapter."""

import warnings

# The chapters execute in a Jupyter kernel without ipywidgets, where importing tqdm.auto (the trainer's progress
# bars, which no chapter draws) warns that it cannot draw notebook bars; that warning would print on the page.
warnings.filterwarnings("ignore", message="IProgress not found")
