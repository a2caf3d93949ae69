"""MQTT as Warden speaks it: the packets (pure), topic filters (pure), and the client (a
socket and a thread). Services use it through shared.bus."""
