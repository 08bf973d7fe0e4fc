"""Filling a DataTable with columns fitted to what it holds now.

A DataTable left to size its own columns measures new rows when it is next idle; now and then that
came after the screen was drawn, and the columns stayed cut to their headers. Measuring here makes
the first frame right.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable


def _width(cell: object) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))


def fill_table(table: DataTable, columns: Sequence[str], rows: Sequence[Sequence[object]],
               keys: Sequence[str] | None = None, max_width: int = 40) -> None:
    """Replace the table's columns and rows; each column as wide as its widest cell (at most
    `max_width`: one long value is cut rather than pushing the others off screen)."""
    table.clear(columns=True)
    for i, label in enumerate(columns):
        widest = max([cell_len(label)] + [_width(row[i]) for row in rows])
        table.add_column(label, key=label, width=min(max_width, widest))
    for n, row in enumerate(rows):
        table.add_row(*row, key=None if keys is None else keys[n])
