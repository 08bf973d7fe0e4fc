"""Text helpers for labels and reports."""

from __future__ import annotations

import re
import unicodedata


def slugify(text: str) -> str:
    """Lowercase ASCII words joined by dashes."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)


def truncate(text: str, width: int, ellipsis: str = "...") -> str:
    """Cut `text` to at most `width` characters, ending with `ellipsis` when cut."""
    if len(text) <= width:
        return text
    return text[: width - len(ellipsis)] + ellipsis


def parse_csv_line(line: str, sep: str = ",") -> list[str]:
    """Split one CSV line; double quotes protect separators."""
    fields, current, quoted = [], "", False
    for ch in line.rstrip("\n"):
        if ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            fields.append(current)
            current = ""
        else:
            current += ch
    fields.append(current)
    return fields


def format_table(rows: list[list[str]], header: list[str]) -> str:
    """A plain-text table with columns padded to their widest cell."""
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    return "\n".join(lines)
