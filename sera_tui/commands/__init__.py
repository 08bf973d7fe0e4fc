"""One module per `sera` sub-command; each owns its own typer wiring. Heavy imports stay inside functions
so `sera --help` is fast."""
