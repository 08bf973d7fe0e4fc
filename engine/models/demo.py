"""The demo teacher: a deterministic, rule-based stand-in for a teacher model.

It is NOT a language model and says so (`label`). It makes real tool calls against the real
worktree: for purpose="agent" it locates the function named in the task ("… `fn` in `path.py` …"),
views it, makes one small real edit (a None guard, a docstring, or a comment, picked from a hash
of the function name and seed), checks the syntax with `python -m py_compile`, then submits. For
purpose="judge" it answers yes/no with a one-line reason (no for about 1 in 10); for purpose="pr" it
writes a templated issue in the style of the given demonstration. Rollout 2 (a task written as one
of its own PRs) reproduces the rollout-1 edit except for about 1 in 5 functions, where it words or
places the edit differently, so demos show both kept and below-threshold pairs.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from engine.models.base import Completion, message_tokens
from engine.trajectory import Message, ToolCall

LABEL = "demo — not a language model"
PR_MARKER = "Steps to reproduce"

_TARGET = re.compile(r"`([A-Za-z_][\w.]*)(?:\(\))?`\s*\(?\s*(?:in|from|of)\s+`([^`\s]+)`")
_NAMED = re.compile(r"function\s+`([A-Za-z_][\w.]*)(?:\(\))?`\s+and\s+the\s+file\s+`([^`\s]+)`")
_PY_FILE = re.compile(r"`([^`\s]+\.py)`")
_IDENT = re.compile(r"`([A-Za-z_][\w.]*)(?:\(\))?`")
_WORKDIR = re.compile(r"<uploaded_files>\s*\n(.*?)\n\s*</uploaded_files>", re.DOTALL)
_VIEW_LINE = re.compile(r"^\s*(\d+)\t(.*)$")


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


def find_target(text: str) -> tuple[str | None, str | None]:
    """(function, file) named in a task, instruction, or PR text."""
    m = _NAMED.search(text) or _TARGET.search(text)
    if m:
        return m.group(1), m.group(2)
    file = _PY_FILE.search(text)
    idents = [i for i in _IDENT.findall(text) if not i.endswith(".py")]
    return (idents[0] if idents else None), (file.group(1) if file else None)


# -- planning an edit from the viewed source ---------------------------------------------------
@dataclass
class Edit:
    kind: str  # guard | docstring | comment
    anchor_line: int  # insert after this 1-based line
    old_str: str  # anchor lines + the next line (unique context for str_replace)
    new_str: str
    inserted: str  # the new lines alone (for the insert fallback)


def _params(header: str) -> list[str]:
    """Required positional parameter names (no self/cls/*args/defaults)."""
    start = header.find("(")
    depth, end = 0, len(header)
    for i in range(start, len(header)):
        if header[i] in "([{":
            depth += 1
        elif header[i] in ")]}":
            depth -= 1
            if depth == 0:
                end = i
                break
    inner, parts, depth, cur = header[start + 1:end], [], 0, ""
    for ch in inner:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    names = []
    for p in parts:
        p = p.strip()
        if not p or p.startswith("*") or p == "/" or "=" in p:
            if p.startswith("*"):
                break  # keyword-only parameters after *: leave them alone
            continue
        name = p.split(":")[0].strip()
        if name not in ("self", "cls") and name.isidentifier():
            names.append(name)
    return names


def _words(fn: str) -> str:
    base = fn.rsplit(".", 1)[-1].strip("_") or fn
    base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", base)
    return " ".join(w.lower() for w in base.split("_") if w) or base


def plan_edit(fn: str, lines: list[tuple[int, str]], *, seed: int, second_rollout: bool) -> Edit | None:
    """The deterministic edit for the function whose `def` is the first of `lines` ((lineno, text) pairs)."""
    if not lines:
        return None
    def_no, def_text = lines[0]
    def_indent = def_text[: len(def_text) - len(def_text.lstrip())]
    # header: up to the line closing the signature with ':'
    depth, header_end = 0, None
    for i, (_, text) in enumerate(lines):
        code = text.split("#", 1)[0]
        depth += sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
        if depth <= 0 and code.rstrip().endswith(":"):
            header_end = i
            break
    body = lines[header_end + 1:] if header_end is not None else []
    first_body = next(((n, t) for n, t in body if t.strip()), None)
    header_text = " ".join(t.strip() for _, t in lines[: (header_end or 0) + 1])
    if header_end is None or first_body is None or len(first_body[1]) - len(first_body[1].lstrip()) <= len(def_indent):
        # one-line def or unparsable: a comment above the def
        text = f"{def_indent}# {_words(fn).capitalize()}: kept deliberately small; see its callers."
        prev = lines[0]
        return Edit("comment", def_no - 1, prev[1], f"{text}\n{prev[1]}", text)
    indent = first_body[1][: len(first_body[1]) - len(first_body[1].lstrip())]
    stripped = first_body[1].lstrip()
    has_doc = stripped[:4].lstrip("rRbBuU").startswith(('"', "'"))
    params = _params(header_text)
    options = (["guard"] if params else []) + ([] if has_doc else ["docstring"])
    if not options:
        options = ["comment"]
    pick = _h(fn, seed, "kind") % len(options)
    variant = 0
    if second_rollout and _h(fn, "rollout-2") % 5 == 0:  # ~20%: rollout 2 does it differently
        variant = 1
        if len(options) > 1:
            pick = 1 - pick
    kind = options[pick]
    # where to insert: after the header, or after the docstring for guards/comments
    anchor_idx = header_end
    if has_doc and kind != "docstring":
        s2 = stripped.lstrip("rRbBuU")
        q = s2[:3] if s2[:3] in ('"""', "'''") else s2[0]
        j = next(i for i, (n, _) in enumerate(lines) if n == first_body[0])
        if len(q) == 1 or s2.count(q) >= 2:
            anchor_idx = j
        else:
            anchor_idx = next((k for k in range(j + 1, len(lines)) if q in lines[k][1]), None)
            if anchor_idx is None:
                return None
    name = fn.rsplit(".", 1)[-1]
    if kind == "guard":
        p = params[0]
        msg = (f'"{name}() needs a value for `{p}`, got None"' if variant == 0 else f'"{p} must not be None"')
        exc = "ValueError" if variant == 0 else "TypeError"
        new = [f"{indent}if {p} is None:", f"{indent}    raise {exc}({msg})"]
    elif kind == "docstring":
        text = (f"{_words(fn).capitalize()}." if variant == 0 else f"Helper that handles {_words(fn)}.")
        new = [f'{indent}"""{text}"""']
    else:
        text = (f"{_words(fn).capitalize()}: inputs are trusted here." if variant == 0
                else f"NOTE: {_words(fn)} relies on its callers for validation.")
        new = [f"{indent}# {text}"]
    if anchor_idx + 1 >= len(lines):
        return None
    anchor = [t for _, t in lines[: anchor_idx + 1]]  # from the def line: unique enough for str_replace
    following = lines[anchor_idx + 1][1]
    inserted = "\n".join(new)
    return Edit(kind, lines[anchor_idx][0], "\n".join(anchor + [following]),
                "\n".join(anchor + new + [following]), inserted)


def parse_view(observation: str) -> list[tuple[int, str]]:
    out = []
    for line in observation.split("\n"):
        m = _VIEW_LINE.match(line)
        if m:
            out.append((int(m.group(1)), m.group(2)))
    return out


class DemoTeacher:
    """provider="demo". Deterministic per (function, seed)."""

    label = LABEL

    def __init__(self, model: str = "demo", *, seed: int = 0):
        self.model = model
        self.seed = seed

    async def complete(self, messages: list[Message], tools: list[dict[str, Any]] | None, *,
                       temperature: float = 0.6, max_tokens: int | None = None,
                       purpose: str = "agent", seed: int | None = None) -> Completion:
        t0 = time.perf_counter()
        if purpose == "judge":
            msg = self._judge(messages)
        elif purpose == "pr":
            msg = self._pr(messages)
        else:
            msg = self._agent(messages)
        pt = sum(message_tokens(m) for m in messages)
        ct = message_tokens(msg)
        latency = (time.perf_counter() - t0) * 1000
        msg.prompt_tokens, msg.completion_tokens, msg.tokens, msg.model_latency_ms = pt, ct, ct, latency
        return Completion(msg, pt, ct, latency, 0.0)

    # -- agent ---------------------------------------------------------------------------------
    def _agent(self, messages: list[Message]) -> Message:
        task = next((m.content or "" for m in messages if m.role == "user"), "")
        m = _WORKDIR.search(task)
        workdir = m.group(1).strip() if m else None
        issue = task.split("<issue_description>", 1)[-1]
        fn, file = find_target(issue)
        second = PR_MARKER.lower() in issue.lower()
        step = sum(1 for x in messages if x.role == "assistant")
        last_call, last_obs = self._last_exchange(messages)

        def path(rel: str) -> str:
            return f"{workdir.rstrip('/')}/{rel.lstrip('./')}" if workdir else rel

        def call(name: str, args: dict[str, Any], content: str, reasoning: str) -> Message:
            cid = f"call_demo_{step}_{_h(fn, step) % 10**8:08d}"
            return Message(role="assistant", content=content, reasoning=f"[{LABEL}] {reasoning}",
                           tool_calls=[ToolCall(cid, name, json.dumps(args))])

        def submit(content: str) -> Message:
            return call("submit", {}, content, "Nothing more to do.")

        if not fn:
            return submit("I could not find a function named in the task, so I am not changing anything.")
        name = fn.rsplit(".", 1)[-1]
        pattern = rf"^[[:space:]]*(async[[:space:]]+)?def[[:space:]]+{re.escape(name)}[[:space:]]*\("
        if last_call is None:
            if file:
                cmd = f"grep -n -E '{pattern}' {path(file)}; wc -l < {path(file)}"
            else:
                cmd = f"grep -rn -E '{pattern}' --include='*.py' {workdir or '.'} | head -5"
            return call("bash", {"command": cmd}, f"Let me find `{fn}` first.",
                        f"The task is about `{fn}`; locate its definition.")
        args = _args(last_call)
        if step >= 12:  # a rule-based agent that has not finished by now never will
            return submit(f"I could not complete a change to `{fn}`; stopping here.")
        command = args.get("command", "")
        if last_call.name == "bash" and command.startswith("grep -rn"):  # "path:line:text" rows
            rows = [r for r in (last_obs or "").splitlines() if r.strip()]
            hit = next((r.split(":", 2) for r in rows if r.count(":") >= 2), None)
            if not hit:
                return submit(f"I could not find a definition of `{fn}`; not changing anything.")
            found = hit[0]
            rel = found[len(workdir.rstrip('/')) + 1:] if workdir and found.startswith(workdir) else found
            cmd = f"grep -n -E '{pattern}' {path(rel)}; wc -l < {path(rel)}"
            return call("bash", {"command": cmd}, f"`{fn}` is defined in `{rel}`.", "Narrow down to that file.")
        if last_call.name == "bash" and command.startswith("grep -n"):
            target = command.rsplit("< ", 1)[-1].strip()
            rows = [r for r in (last_obs or "").splitlines() if r.strip()]
            defs = [int(r.split(":", 1)[0]) for r in rows if re.match(r"^\d+:", r)]
            total = next((int(r) for r in reversed(rows) if r.strip().isdigit()), None)
            if not defs or total is None:
                return submit(f"`{fn}` is not defined in `{file or target}`; not changing anything.")
            start = defs[0]
            end = min(total, start + 60) if total >= start else -1
            return call("str_replace_editor", {"command": "view", "path": target, "view_range": [start, end]},
                        f"Let me look at `{fn}`.", f"`{fn}` starts at line {start} of {target}.")
        if last_call.name == "str_replace_editor" and args.get("command") == "view":
            edit = plan_edit(fn, parse_view(last_obs or ""), seed=self.seed, second_rollout=second)
            if edit is None:
                return submit(f"I could not find a safe place to change `{fn}`; not changing anything.")
            return call("str_replace_editor", {"command": "str_replace", "path": args["path"],
                                               "old_str": edit.old_str, "new_str": edit.new_str},
                        f"I'll make a small change to `{fn}` ({edit.kind}).",
                        f"A {edit.kind} is the smallest change that addresses the report.")
        if last_call.name == "str_replace_editor" and args.get("command") == "str_replace" and \
                (last_obs or "").startswith("No replacement was performed"):
            view = self._last_view(messages)
            edit = plan_edit(fn, parse_view(view), seed=self.seed, second_rollout=second) if view else None
            if edit is None:
                return submit("The edit did not apply; not changing anything.")
            return call("str_replace_editor", {"command": "insert", "path": args["path"],
                                               "insert_line": edit.anchor_line, "new_str": edit.inserted},
                        "The context was not unique; inserting by line number instead.", "Use insert.")
        if last_call.name == "str_replace_editor" and args.get("command") in ("str_replace", "insert"):
            target = args["path"]
            return call("bash", {"command": f"python -m py_compile {target} && echo 'syntax OK'"},
                        "Let me check the file still compiles.", "A syntax check catches indentation mistakes.")
        return submit(f"The change to `{fn}` is in place and the file compiles.")

    @staticmethod
    def _last_exchange(messages: list[Message]) -> tuple[ToolCall | None, str | None]:
        for i in range(len(messages) - 1, -1, -1):
            m = messages[i]
            if m.role == "assistant" and m.tool_calls:
                c = m.tool_calls[-1]
                obs = next((x.content for x in messages[i + 1:] if x.role == "tool" and x.tool_call_id == c.id), None)
                return c, obs
        return None, None

    @staticmethod
    def _last_view(messages: list[Message]) -> str | None:
        for m in reversed(messages):
            if m.role == "tool" and (m.content or "").startswith("Here's the result of running `cat -n`"):
                return m.content
        return None

    # -- judge and PR ------------------------------------------------------------------------------
    def _judge(self, messages: list[Message]) -> Message:
        text = "\n".join(m.content or "" for m in messages)
        fn, file = find_target(text)
        if not fn:
            verdict, reason = "no", "I cannot tell which function the instruction is about."
        elif not _added_lines(text):
            verdict, reason = "no", f"The trajectory leaves `{fn}` unchanged: the patch is empty."
        elif _h(fn, self.seed, "judge") % 10 == 0:
            verdict, reason = "no", f"The change to `{fn}` does not address the kind of problem the instruction describes."
        else:
            verdict, reason = "yes", f"The trajectory makes a focused change to `{fn}`" + \
                (f" in `{file}`" if file else "") + " that fits the instruction."
        return Message(role="assistant", content=f"{verdict}\n{reason}", reasoning=f"[{LABEL}] rule-based verdict")

    def _pr(self, messages: list[Message]) -> Message:
        text = "\n".join(m.content or "" for m in messages)
        fn, file = find_target(text)
        fn = fn or "the function"
        file = file or "the module"
        name = fn.rsplit(".", 1)[-1]
        added = "\n".join(_added_lines(text))
        guard = re.search(r"if (\w+) is None:", added)
        if guard:
            p = guard.group(1)
            title = f"`{name}` fails with a confusing error when `{p}` is None"
            problem = (f"When I call `{name}()` with `{p}=None`, it does not reject the value up front; the "
                       f"failure shows up later, far from the call, with an error that does not mention `{p}`.")
            steps = [f"Import `{name}` from `{file}`.", f"Call it with `{p}=None` and otherwise valid arguments.",
                     "Look at the exception (or the silent wrong result)."]
            expected = f"A clear error saying that `{p}` must be given, raised as soon as `{name}` is called."
        elif '"""' in added or "'''" in added:
            title = f"`{name}` is undocumented"
            problem = (f"`help({name})` shows nothing for `{name}`, so it is unclear what it does or what it "
                       f"returns without reading the body.")
            steps = [f"Open a Python shell and import `{name}` from `{file}`.", f"Run `help({name})`."]
            expected = f"A one-line description of what `{name}` does."
        else:
            title = f"`{name}` is hard to follow"
            problem = f"The assumptions `{name}` makes about its inputs are not stated anywhere."
            steps = [f"Read `{name}` in `{file}`.", "Try to tell which inputs it expects its callers to check."]
            expected = "The expectations on inputs are visible where the function is defined."
        markdown = "#" in self._demonstration(messages)
        where = f"This is related to `{fn}` in `{file}`."
        if markdown:
            body = (f"### {title}\n\n{problem} {where}\n\n### {PR_MARKER}\n\n"
                    + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
                    + f"\n\n### Expected behavior\n\n{expected}\n")
        else:
            body = (f"{title}\n\n{problem} {where}\n\n{PR_MARKER}:\n"
                    + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1)) + f"\n\nExpected: {expected}\n")
        return Message(role="assistant", content=body, reasoning=f"[{LABEL}] templated PR")

    @staticmethod
    def _demonstration(messages: list[Message]) -> str:
        text = "\n".join(m.content or "" for m in messages)
        m = re.search(r"<(demonstration|example)>(.*?)</\1>", text, re.DOTALL)
        return m.group(2) if m else ""


def _added_lines(text: str) -> list[str]:
    """The `+` lines of the patch quoted in a judge/PR prompt (inside <patch>…</patch>)."""
    m = re.search(r"<patch>(.*?)</patch>", text, re.DOTALL)
    body = m.group(1) if m else text
    return [ln[1:] for ln in body.splitlines() if ln.startswith("+") and not ln.startswith("+++")]


def _args(call: ToolCall) -> dict[str, Any]:
    try:
        return call.parsed_arguments()
    except ValueError:
        return {}
