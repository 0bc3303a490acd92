"""Access logs: formats, reading, and replay through the engine."""
