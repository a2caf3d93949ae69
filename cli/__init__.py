"""`warden`: one command for a person at a terminal. A client of the bus like any other
(it reads the retained topics and sends triggers, as Home Assistant does; it needs no
root), and the launcher of the stack and of the actuator's cleanup."""
