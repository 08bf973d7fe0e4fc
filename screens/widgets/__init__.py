"""Textual screens; each calls engine/store in workers and never runs SQL or subprocesses."""
