"""Code every Warden service shares: config, messages, topics, the bus, logging."""

__version__ = "0.1.0"
