"""zoo study."""
