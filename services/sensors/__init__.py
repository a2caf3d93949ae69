"""Sensors: read the host (PSI, Docker inventory) and publish facts on the bus."""
