"""full_scale study."""
