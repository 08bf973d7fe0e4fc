"""SERA Workbench: the Textual app and the `sera` command line."""

__version__ = "0.1.0"
