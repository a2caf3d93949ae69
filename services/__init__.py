"""Warden's four cooperating processes: sensors, governor, actuator, notifier."""
