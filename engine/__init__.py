"""The SERA engine: everything that does work. Never imports Textual, screens or sera_tui."""
