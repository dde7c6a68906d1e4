"""The model zoo: params and FLOPs of both published tables' models counted (counts.py) against the published
numbers, the zoo chapter's tables (chapter.py) and `actionbook zoo` (cli.py)."""
