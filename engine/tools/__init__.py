"""The agent's tools: one schema definition (schema.py) shared by agent, exporter, trainer and proxy."""
