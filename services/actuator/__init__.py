"""Actuator: the only privileged process. Makes the host match the desired state, safely."""
