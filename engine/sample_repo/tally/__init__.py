"""tally: a tiny stock-keeping library."""

__version__ = "0.3.0"
