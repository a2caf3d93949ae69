"""Warden as a Home Assistant device, through MQTT discovery."""
