"""What every chapter of the book shares and no study owns: the run index, markdown tables and number formats,
the plot style, and the provenance chapter."""
