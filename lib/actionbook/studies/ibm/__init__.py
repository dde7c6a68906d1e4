"""ibm study."""
