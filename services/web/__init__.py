"""The web service: ADRG's HTTP API, Warden's versioned API, /metrics, history, dashboard."""
