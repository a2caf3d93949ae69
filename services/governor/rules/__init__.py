"""One module per rule, each a pure function of facts, config, memory and time."""
