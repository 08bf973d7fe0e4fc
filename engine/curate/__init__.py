"""Curation: truncation, SFT export and import of other agents' trajectories."""
