"""Help: every screen in a sentence and the keys that drive it (the footer shows the same per screen)."""

from __future__ import annotations

from rich.markdown import Markdown
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
# SERA Workbench

Turn a git repository into soft-verified agent training data, then into a specialized model.
Every screen reads the workspace database in the background; the UI never waits on it.

## Screens (number keys switch)

| Key | Screen | What it does |
|-----|--------|--------------|
| 1 | Repos | Registered repos: HEAD, languages, pairs / kept / reviewed. `a` add a repo by path, `g` or Enter: generate on it |
| 2 | Generate | Settings form, `Start` / `Stop` (ctrl+s / ctrl+x), `d` demo. A live task table; select a task to stream T1 and T2 side by side with the synthetic PR between them. `i` opens the pair inspector |
| 3 | Curate | Filters of the export as form controls, a live count and recall histogram, matching pairs, export |
| 4 | Review | Borderline pairs one at a time: accept / reject / skip / undo, add a note |
| 5 | Train | Pick a dataset and base model, launch, follow loss and log, cancel |
| 6 | Eval | Evaluate models over several seeds, compare runs |

## Pair inspector

P1 (rollout 1) and P2 (rollout 2) side by side. **Green ✓**: a P1 line found in P2 (and the P2 line
that matched it); **red ✗**: a P1 line P2 lacks; **dim ·**: a P2 change with no counterpart in P1.
`m` switches between the SERA recall rule and per-file matching; `n` / `p` next / previous pair;
`f` / `s` walk T1 / T2 step by step (←/→, `a` all steps).

## Everywhere

`?` this help · `ctrl+p` command palette (screens, demo, theme) · `ctrl+t` light/dark theme ·
`escape` back · `q` quit. Tab / shift+Tab move focus. In a trajectory pane, `e` expands every
message (reasoning, clipped observations); a click expands one.

When another process holds the database (a running `sera generate`), the workbench opens a
read-only snapshot and says so in a red banner; actions that write are disabled.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(Markdown(HELP))
