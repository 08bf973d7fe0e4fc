"""A scripted teacher that behaves like a model, served over real HTTP (engine.loopback).

Per conversation it looks at what is asked: an agent rollout (views the file, edits with
str_replace, runs bash, submits), a judge question (YES/NO) or a PR request (an issue text). Each
function of the test repo follows a scenario: the same edit in both rollouts (kept), a different
edit in rollout 2 (below threshold), a NO from the judge (judged invalid) or a rollout that never
submits (step limit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from engine.loopback import Reply, text_reply, tool_call_reply
from engine.svg.prompts import JUDGE_SYSTEM, PR_SYSTEM

PR_MARK = "(reported from the field)"


@dataclass
class Scenario:
    file: str
    old: str            # a unique line of the function
    t1_new: str
    t2_new: str | None = None   # None: same as t1 (the pair matches)
    t2_old: str | None = None   # rollout 2 edits this line instead (the pair drifts)
    judge_yes: bool = True
    never_submit: bool = False
    no_edit: bool = False        # rollout 1 submits without changing anything
    bad_first_pr: bool = False   # the first PR says the problem is already fixed (must be retried)
    delay_s: float = 0.0         # a slow conversation (rollout 1 of this function only)


@dataclass
class ScriptedTeacher:
    scenarios: dict[str, Scenario]
    delay_s: float = 0.0
    calls: list[str] = field(default_factory=list)
    pr_count: dict[str, int] = field(default_factory=dict)

    def _function(self, text: str) -> str | None:
        for name in self.scenarios:
            if f"`{name}`" in text:
                return name
        return None

    def __call__(self, req: dict[str, Any]) -> Reply:
        msgs = req["messages"]
        system = msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else ""
        user = next((m["content"] for m in msgs if m["role"] == "user"), "") or ""
        fn = self._function(user)
        if fn is None:
            return text_reply("I cannot tell which function this is about.", delay_s=self.delay_s)
        sc = self.scenarios[fn]
        if system == JUDGE_SYSTEM:
            self.calls.append(f"judge:{fn}")
            return text_reply("YES. The change is about the function named in the instruction." if sc.judge_yes
                              else "NO. The change does not address the instruction.", delay_s=self.delay_s)
        if system == PR_SYSTEM:
            self.calls.append(f"pr:{fn}")
            self.pr_count[fn] = self.pr_count.get(fn, 0) + 1
            if sc.bad_first_pr and self.pr_count[fn] == 1:
                return text_reply(f"`{fn}` misbehaved {PR_MARK}\n\nCalling `{fn}` returned a wrong value, but this "
                                  "has been fixed already by guarding the input.", delay_s=self.delay_s)
            return text_reply(f"`{fn}` gives a wrong result {PR_MARK}\n\nWhen I call `{fn}` in `{sc.file}` with "
                              "ordinary arguments the value it returns is not what its description promises. "
                              f"To reproduce, import it and call `{fn}(3)`.", delay_s=self.delay_s)
        stage = "T2" if PR_MARK in user else "T1"
        root = re.search(r"<uploaded_files>\n(.*?)\n</uploaded_files>", user)
        path = f"{root.group(1) if root else '/testbed'}/{sc.file}"
        turn = sum(1 for m in msgs if m["role"] == "assistant")
        self.calls.append(f"{stage}:{fn}:{turn}")
        if sc.never_submit and stage == "T1":
            return tool_call_reply("bash", {"command": "ls"}, reasoning="Looking around.", delay_s=self.delay_s)

        delay = self.delay_s + (sc.delay_s if stage == "T1" else 0.0)
        if sc.no_edit and stage == "T1":
            plan_noop = [("str_replace_editor", {"command": "view", "path": path}, "Read the code first."),
                         ("submit", {}, "Nothing to change.")]
            name, args, why = plan_noop[min(turn, 1)]
            return tool_call_reply(name, args, reasoning=why, delay_s=delay)
        new = sc.t1_new if stage == "T1" or sc.t2_new is None else sc.t2_new
        old = sc.t2_old if stage == "T2" and sc.t2_old else sc.old
        plan = [
            ("str_replace_editor", {"command": "view", "path": path}, "Read the code first."),
            ("str_replace_editor", {"command": "str_replace", "path": path, "old_str": old, "new_str": new},
             "Change the suspicious line."),
            ("bash", {"command": f"python -c \"print('checked {fn}')\""}, "Check it still runs."),
            ("submit", {}, "Done."),
        ]
        name, args, why = plan[min(turn, len(plan) - 1)]
        return tool_call_reply(name, args, reasoning=why, delay_s=delay,
                               prompt_tokens=100 + 10 * turn, completion_tokens=20)
