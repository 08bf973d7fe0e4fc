"""A tmp repo with two bugs, reference patches fixing them, and a scripted model server whose
"student" fixes the asked bug on seeds 0 and 1 and gives up on seed 2, while "base" always gives up."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from engine.loopback import ScriptedOpenAIServer, tool_call_reply

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a + b\n"
FIXES = {"add": ("return a - b", "return a + b"), "mul": ("return a + b", "return a * b")}
TESTS = {"add": "python3 -c 'import calc; assert calc.add(2, 3) == 5'",
         "mul": "python3 -c 'import calc; assert calc.mul(2, 3) == 6'"}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def calc_repo(make_repo):
    root = make_repo({"calc.py": CALC}, name="calc")
    head = _git(root, "rev-parse", "HEAD").strip()
    refs = {}
    for fn, (old, new) in FIXES.items():
        text = CALC.split("\n\n\n")
        idx = 0 if fn == "add" else 1
        text[idx] = text[idx].replace(old, new)
        (root / "calc.py").write_text("\n\n\n".join(text))
        refs[fn] = _git(root, "diff")
        _git(root, "checkout", "--", "calc.py")  # our own tmp repo, back to HEAD
    return root, head, refs


@pytest.fixture
def task_file(calc_repo, tmp_path):
    root, head, refs = calc_repo
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps({
        "id": f"fix-{fn}", "repo": str(root), "base_commit": head,
        "task_text": f"calling {fn}(2, 3) gives the wrong answer", "reference_patch": refs[fn],
        "test_cmd": TESTS[fn]}) + "\n" for fn in ("add", "mul")))
    return path


def _responder():
    def respond(req):
        msgs = req["messages"]
        task = msgs[1]["content"]
        fn = "add" if "add(2, 3)" in task else "mul"
        # A seeded server: the seed the evaluation sends decides the outcome (seed 2 fails).
        if msgs[-1]["role"] == "tool" or req["model"] == "base" or req.get("seed") == 2:
            return tool_call_reply("submit", {})
        old, new = FIXES[fn]
        line = old.replace("return ", "")
        return tool_call_reply("bash", {"command": f"sed -i '/def {fn}/,+1 s/{line}/{new.replace('return ', '')}/' "
                                                   "calc.py"}, completion_tokens=7)

    return respond


@pytest.fixture
def model_server():
    with ScriptedOpenAIServer(_responder(), model="student") as srv:
        yield srv
