"""Incidents: each stall of protected work told as a person reads it (book.py keeps them,
usage.py ranks who else was busy, actions.py says what Warden did, sentence.py tells it)."""
