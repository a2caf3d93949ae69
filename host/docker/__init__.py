"""Docker: a read-only view (containers, events) and the control calls (pause, update)."""
