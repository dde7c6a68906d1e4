"""mmaction study."""
