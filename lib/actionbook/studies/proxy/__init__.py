"""proxy study."""
