"""The export's truncation rule applied to token spans: cut back to the last complete assistant turn.

engine/curate/truncate.py (the exporter's) works on messages before export; at training time we
already hold token offsets per assistant turn, so the same rule is a search over turn ends.
"""

from __future__ import annotations


def cut_point(assistant_ends: list[int], n_tokens: int, max_len: int) -> int | None:
    """Token count to keep: all of it when it fits, else the end of the last assistant turn that
    fits in max_len; None when not even the first assistant turn fits (the example is dropped)."""
    if n_tokens <= max_len:
        return n_tokens
    fitting = [end for end in assistant_ends if end <= max_len]
    return max(fitting) if fitting else None
