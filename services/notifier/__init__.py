"""Notifier: turns events into Discord, ntfy and Gotify messages. Outbound HTTP only."""
