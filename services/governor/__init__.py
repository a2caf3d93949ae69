"""Governor: the pure decision engine. Facts + config -> desired state and events. No privileges."""
