"""Import of other agents' trajectories from fixture files written from their documented schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.curate.export import ExportOptions, export_dataset
from engine.curate.importers import ImportFormatError, count_patch_lines, import_paths, parse_file
from engine.tools.schema import TOOL_NAMES
from sera_tui.cli import app
from store.curation import load_messages, select_rollouts
from store.filters import FilterSpec
from store.repos import add_repo

FIX = Path(__file__).parent / "fixtures"
GOOD = ["swe_agent_function_calling.traj", "swe_agent_text_action.traj", "mini_swe_agent_bash.traj.json",
        "mini_swe_agent_toolcalls.traj.json", "openhands_output.jsonl"]


def raw_patches(name: str) -> list[str | None]:
    """The final patch straight from the fixture, to compare byte for byte."""
    text = (FIX / name).read_text()
    if name.endswith(".jsonl"):
        return [json.loads(line)["test_result"]["git_patch"] or None for line in text.splitlines()]
    return [json.loads(text)["info"]["submission"] or None]


@pytest.mark.parametrize("name,source,exits,model", [
    ("swe_agent_function_calling.traj", "swe-agent", ["submitted"], "claude-sonnet-4"),
    ("swe_agent_text_action.traj", "swe-agent", ["submitted"], None),
    ("mini_swe_agent_bash.traj.json", "mini-swe-agent", ["submitted"], "openai/gpt-5-mini"),
    ("mini_swe_agent_toolcalls.traj.json", "mini-swe-agent", ["step_limit"], "anthropic/claude"),
    ("openhands_output.jsonl", "openhands", ["submitted", "step_limit"], "litellm_proxy/claude-3-5-sonnet"),
])
def test_each_format_parses_with_patch_and_answered_calls(name, source, exits, model):
    trajs = parse_file(FIX / name)
    assert [t.source for t in trajs] == [source] * len(exits)
    assert [t.exit_reason for t in trajs] == exits
    assert trajs[0].model == model
    assert [t.patch or None for t in trajs] == raw_patches(name)  # CRLF kept as in the source
    for t in trajs:
        assert t.messages[0].role in ("system", "user")
        calls = {c.id: c for m in t.messages for c in m.tool_calls}
        replies = [m for m in t.messages if m.role == "tool"]
        assert {m.tool_call_id for m in replies} == set(calls)  # every call answered, every reply matched
        for m in replies:
            assert m.name == calls[m.tool_call_id].name
        for c in calls.values():
            assert c.name in TOOL_NAMES and isinstance(json.loads(c.arguments), dict)


def test_crlf_patches_and_changed_line_counts():
    t = parse_file(FIX / "swe_agent_function_calling.traj")[0]
    assert "\r\n" in t.patch and t.patch.count("\r\n") == t.patch.count("\n")
    assert t.patch_lines == 4  # 1 removed + 3 added; ---/+++ headers not counted
    text = parse_file(FIX / "swe_agent_text_action.traj")[0]
    assert text.patch.startswith("--- a/lib/util.py") and text.patch_lines == 2  # no diff --git header
    assert count_patch_lines("") == 0 and count_patch_lines(None) == 0


def test_text_action_history_becomes_tool_calls():
    t = parse_file(FIX / "swe_agent_text_action.traj")[0]
    roles = [m.role for m in t.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant", "tool"]  # demo skipped
    a = t.messages[2]
    assert a.content == "Let me open the file."
    assert (a.tool_calls[0].name, json.loads(a.tool_calls[0].arguments)) == ("bash", {"command": "open lib/util.py"})
    assert t.messages[6].tool_calls[0].name == "submit"


def test_mini_swe_agent_observations_and_format_errors():
    t = parse_file(FIX / "mini_swe_agent_bash.traj.json")[0]
    assert t.source_ref == "acme__app-101"
    tools = [m for m in t.messages if m.role == "tool"]
    assert [m.tool_error for m in tools] == [False, True, False]  # <returncode>1</returncode> is an error
    # two bash blocks in one turn is a format error: no call, the complaint stays a user turn
    two = next(m for m in t.messages if "Two commands" in (m.content or ""))
    assert two.tool_calls == []
    assert t.messages[t.messages.index(two) + 1].role == "user"
    assert t.messages[-2].tool_calls[0].name == "submit"  # the echo-marker submission
    assert t.messages[2].content == "THOUGHT: Look at the source."  # the fenced block became the call


def test_openhands_actions_map_to_our_tools():
    ok, failed = parse_file(FIX / "openhands_output.jsonl")
    edit = next(c for m in ok.messages for c in m.tool_calls if c.name == "str_replace_editor")
    assert json.loads(edit.arguments)["command"] == "str_replace"
    assert [m.tool_error for m in ok.messages if m.role == "tool"] == [False, False, True, False]
    assert ok.task_text.startswith("parse() crashes on None")
    assert failed.exit_reason == "step_limit" and failed.patch in ("", None)


@pytest.mark.parametrize("name,error", [
    ("broken.traj", "invalid JSON at line 1"),
    ("unknown_format.json", "unknown trajectory format"),
    ("missing.traj", "no such file"),
])
def test_broken_files_say_what_is_wrong(name, error):
    with pytest.raises(ImportFormatError, match=error):
        parse_file(FIX / name)


def test_import_into_store_then_filter_and_export(store, tokenizer, tmp_path):
    import datasets

    add_repo(store, "acme", "/tmp/acme", "abc")
    results = import_paths(store, [FIX / n for n in GOOD] + [FIX / "broken.traj"], repo="acme")
    assert [r.error is None for r in results] == [True] * 5 + [False]
    rows = select_rollouts(store, FilterSpec(submitted_only=False, repo="acme"))
    assert len(rows) == 6 and {r["stage"] for r in rows} == {"imported"}
    by_ref = {r["source_ref"]: r for r in rows}
    assert by_ref["acme__app-101"]["source"] in ("mini-swe-agent", "openhands")
    msgs = load_messages(store, [r["rollout_id"] for r in rows])
    assert all(msgs.values())
    patches = dict(store.fetchall("SELECT id, patch FROM rollouts WHERE stage = 'imported'"))
    assert sum(1 for p in patches.values() if p and "\r\n" in p) == 3
    assert {r["source"] for r in select_rollouts(store, FilterSpec(sources=["swe-agent"]))} == {"swe-agent"}
    out = tmp_path / "imported.jsonl"
    s = export_dataset(store, out, FilterSpec(repo="acme"), ExportOptions())
    assert s.exported == 4  # the submitted ones
    for row in datasets.load_dataset("json", data_files=str(out), split="train"):
        tokenizer.apply_chat_template(row["messages"], tools=row["tools"], tokenize=False)


def test_cli_import_reports_each_broken_file_and_keeps_the_rest(workspace):
    runner = CliRunner()
    ws = ["--workspace", str(workspace.root)]
    r = runner.invoke(app, [*ws, "import", *[str(FIX / n) for n in GOOD], str(FIX / "broken.traj"),
                            str(FIX / "unknown_format.json"), "--json"])
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert (data["imported"], data["failed"]) == (6, 2)
    errors = {Path(f["path"]).name: f["error"] for f in data["files"] if f["error"]}
    assert set(errors) == {"broken.traj", "unknown_format.json"}
    # importing the same files again adds nothing twice
    r = runner.invoke(app, [*ws, "import", *[str(FIX / n) for n in GOOD], "--json"])
    assert r.exit_code == 0 and (json.loads(r.stdout)["imported"], json.loads(r.stdout)["skipped"]) == (0, 6)
    r = runner.invoke(app, [*ws, "import", str(FIX / "broken.traj")])
    assert r.exit_code == 1
    assert r.stderr.strip() == (f"sera: error: {FIX / 'broken.traj'}: invalid JSON at line 1 column 44: "
                                "Unterminated string starting at")
    r = runner.invoke(app, [*ws, "import", str(FIX / GOOD[0]), "--repo", "nope"])
    assert r.exit_code == 2 and "no repo named 'nope'" in r.stderr
    r = runner.invoke(app, [*ws, "stats", "--json"])
    assert r.exit_code == 0
    stats = json.loads(r.stdout)
    assert stats["rollouts"] == 6 and stats["by_source"] == {"swe-agent": 2, "mini-swe-agent": 2, "openhands": 2}


def test_cli_import_of_a_directory_and_human_stats(workspace, tmp_path):
    import shutil

    d = tmp_path / "trajs"
    d.mkdir()
    for n in GOOD[:3]:
        shutil.copy(FIX / n, d / n)
    (d / "notes.txt").write_text("not a trajectory")  # ignored: not a trajectory file name
    runner = CliRunner()
    ws = ["--workspace", str(workspace.root)]
    r = runner.invoke(app, [*ws, "import", str(d)])
    assert r.exit_code == 0, r.output
    assert "imported 3 rollout(s) from 3 of 3 file(s)" in r.stdout
    r = runner.invoke(app, [*ws, "stats", "--source", "swe-agent"])
    assert r.exit_code == 0, r.output
    assert "2 rollouts · 0 tasks · 0 pairs" in r.stdout and "by source" in r.stdout and "swe-agent" in r.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(app, [*ws, "import", str(empty)])
    assert r.exit_code == 2 and "no .traj, .traj.json or output.jsonl files" in r.stderr
