"""The demo teacher: real tool calls against a real worktree, deterministic edits, judge and PR text."""

from __future__ import annotations

import py_compile
import subprocess
from pathlib import Path

import pytest

from engine.agent import AgentConfig, run_rollout
from engine.models import make_client
from engine.models.demo import LABEL, PR_MARKER, DemoTeacher, find_target
from engine.trajectory import Message
from store.rollouts import get_messages

INSTRUCTION = ("When I call `{fn}` (in `pkg/mod.py`), something about its behaviour looks wrong. The cause may "
               "be in `{name}` itself, in something it calls, or in the code that calls it.")


async def rollout(client, sb, text, store=None):
    return await run_rollout(client=client, sandbox=sb, task_text=text, config=AgentConfig(step_limit=20),
                             store=store)


@pytest.mark.parametrize("fn", ["parse_config", "Loader.load", "total"])
async def test_submits_a_real_patch_that_compiles(py_repo: Path, sandboxes, store, fn: str) -> None:
    sb = sandboxes(py_repo)
    result = await rollout(make_client("demo", provider="demo"), sb,
                           INSTRUCTION.format(fn=fn, name=fn.split(".")[-1]), store)
    assert result.exit_reason == "submitted"
    assert result.patch.count("\n+") >= 1 and "pkg/mod.py" in result.patch
    py_compile.compile(str(sb.root / "pkg" / "mod.py"), doraise=True, cfile=str(sb.root.parent / "x.pyc"))
    stored = get_messages(store, result.rollout_id)
    calls = [c.name for m in stored for c in m.tool_calls]
    assert calls[0] == "bash" and "str_replace_editor" in calls and calls[-1] == "submit"
    assert any("py_compile" in c.arguments for m in stored for c in m.tool_calls)
    assert all(m.reasoning.startswith(f"[{LABEL}]") for m in stored if m.role == "assistant")
    assert not any(m.tool_error for m in stored)


async def test_deterministic_and_rollout_two_usually_reproduces_rollout_one(make_repo, sandboxes) -> None:
    from engine.models.demo import _h, plan_edit

    names = [f"func_{i}" for i in range(40)]
    flips = [n for n in names if _h(n, "rollout-2") % 5 == 0]
    chosen = [n for n in names if n not in flips][:2] + flips[:1]
    src = "\n\n".join(f"def {n}(value, other=None):\n    return value" for n in chosen) + "\n"
    repo = make_repo({"m.py": src})
    client = make_client("demo", provider="demo")
    for n in chosen:
        text = f"Something is off related to `{n}` in `m.py`."
        p1 = (await rollout(client, sandboxes(repo), text)).patch
        if n == chosen[0]:
            assert p1 == (await rollout(client, sandboxes(repo), text)).patch  # deterministic
        pr = f"`{n}` misbehaves\n\nThis is related to `{n}` in `m.py`.\n\n{PR_MARKER}:\n1. call it"
        p2 = (await rollout(client, sandboxes(repo), pr)).patch
        assert p1 and p2 and (p1 == p2) == (n not in flips)
    # over many names about 1 in 5 differs in rollout 2 (planning only, no sandboxes needed)
    lines = [(1, "def f(value):"), (2, "    return value"), (3, "")]
    differ = sum(plan_edit(f"fn_{i}", lines, seed=0, second_rollout=False).new_str
                 != plan_edit(f"fn_{i}", lines, seed=0, second_rollout=True).new_str for i in range(400))
    assert 50 <= differ <= 110
    # and the seed changes which edit is made for some functions
    assert any(plan_edit(f"fn_{i}", lines, seed=0, second_rollout=False).kind
               != plan_edit(f"fn_{i}", lines, seed=1, second_rollout=False).kind for i in range(20))


async def test_judge_and_pr_answers() -> None:
    teacher = DemoTeacher()
    patch = "<patch>\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,4 @@\n def f(x):\n+    if x is None:\n+        raise ValueError('x')\n</patch>"
    verdicts = []
    for i in range(40):
        msgs = [Message(role="user", content=f"<instruction>When I call `fn_{i}` (in `m.py`), it breaks."
                                             f"</instruction>\n{patch}")]
        comp = await teacher.complete(msgs, None, purpose="judge")
        first, reason = comp.message.content.split("\n", 1)
        assert first in ("yes", "no") and f"fn_{i}" in reason
        verdicts.append(first)
    assert 1 <= verdicts.count("no") <= 10  # a small fixed fraction is judged invalid
    empty = [Message(role="user", content="<instruction>`g` in `m.py`</instruction><patch>\n</patch>")]
    assert (await teacher.complete(empty, None, purpose="judge")).message.content.startswith("no")
    pr_prompt = ("<steps>...</steps>\n" + patch + "\n<example>\nTitle\n\nSome text.\n\nTo reproduce:\n1. x\n</example>"
                 "\nyou may name the function `fn_1` and the file `m.py`")
    pr = (await teacher.complete([Message(role="user", content=pr_prompt)], None, purpose="pr")).message.content
    assert "`fn_1`" in pr and "`m.py`" in pr and PR_MARKER in pr and "x=None" in pr.replace(" ", "")
    assert "ValueError" not in pr and "if x is None" not in pr  # the problem, not the fix
    assert find_target(pr) == ("fn_1", "m.py")
    md = pr_prompt.replace("Title", "## Title")
    assert (await teacher.complete([Message(role="user", content=md)], None, purpose="pr")).message.content \
        .startswith("### ")


async def test_unknown_function_submits_an_empty_patch(py_repo: Path, sandboxes) -> None:
    result = await rollout(make_client("demo", provider="demo"), sandboxes(py_repo),
                           "Fix `nothing_here` in `pkg/mod.py`.")
    assert result.exit_reason == "submitted" and result.patch == ""
    result = await rollout(make_client("demo", provider="demo"), sandboxes(py_repo), "no function named here")
    assert result.exit_reason == "submitted" and result.patch == ""


async def test_finds_the_file_when_the_task_names_only_the_function(py_repo: Path, sandboxes) -> None:
    result = await rollout(make_client("demo", provider="demo"), sandboxes(py_repo), "`total` crashes sometimes")
    assert result.exit_reason == "submitted" and "pkg/mod.py" in result.patch


def test_works_on_the_bundled_sample_repo_if_present() -> None:
    """`sera demo` runs the teacher on the sample repo: every sampled-looking function gets a plan."""
    sample = Path(__file__).resolve().parents[2] / "engine" / "sample_repo"
    if not sample.is_dir():
        pytest.skip("no bundled sample repo in this build")
    out = subprocess.run(["grep", "-rn", "-E", r"^\s*def ", str(sample), "--include=*.py"], capture_output=True,
                         text=True).stdout
    assert out.strip()
