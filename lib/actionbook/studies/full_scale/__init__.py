"""What the full tables cost: training throughputs (published and measured), compute estimates per IBM row, and
the full-scale chapter's tables (chapter.py) and figure (figures.py)."""
