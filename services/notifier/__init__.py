"""Notifier: turns events into Discord, ntfy, Gotify and Home Assistant messages, and
announces Warden to Home Assistant. Outbound HTTP and MQTT only."""
