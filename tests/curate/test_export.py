"""Export: the JSONL loads with `datasets`, renders through a Qwen-style tool template, keeps reasoning,
sets train flags, orders by truncation ratio, and is recorded so it rebuilds byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.curate.export import ExportOptions, export_dataset, rebuild_dataset
from engine.tools.schema import openai_tools
from sera_tui.cli import app
from store import StoreError
from store.curation import get_dataset
from store.filters import FilterSpec
from tests.curate.builder import Step, StoreBuilder

KEYS = {"role", "content", "reasoning_content", "tool_calls", "tool_call_id", "name", "train"}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def corpus(store) -> dict:
    """Rollouts of different lengths: short ones fit, long ones need a cut, one cannot fit at all."""
    b = StoreBuilder(store)
    ids = {}
    t = b.task()
    ids["short"] = b.rollout(t, "T1", steps=[Step(reasoning="Short and sweet.")])
    ids["failing"] = b.rollout(t, "T2", steps=[
        Step(reasoning="Try the tests.", arguments={"command": "pytest"}, output="1 failed", error=True),
        Step(reasoning="Fix it.", tool="str_replace_editor",
             arguments={"command": "str_replace", "path": "/r/a.py", "old_str": "a", "new_str": "b"}),
        Step(reasoning="Done.", tool="submit", arguments={}, output="diff --git a/a.py b/a.py")])
    t2 = b.task()
    ids["long"] = b.rollout(t2, "T1", steps=[Step(reasoning=f"Thinking about step {i}.", output="y" * 600)
                                             for i in range(8)])
    ids["huge_first"] = b.rollout(t2, "T2", user="z " * 6000)
    return ids


def test_export_loads_with_datasets_and_renders_with_tools(store, corpus, tokenizer, tokenizer_dir, tmp_path):
    import datasets

    out = tmp_path / "sft.jsonl"
    s = export_dataset(store, out, FilterSpec(), ExportOptions(tokenizer=str(tokenizer_dir), max_len=4000))
    assert (s.selected, s.exported) == (4, 3)
    assert s.dropped == {"no complete assistant turn fits in 4000 tokens": 1}
    rows = lines(out)
    assert {r["meta"]["rollout_id"] for r in rows} == {corpus["short"], corpus["failing"], corpus["long"]}
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert ds.num_rows == 3 and set(ds.column_names) == {"messages", "tools", "meta"}
    for raw, loaded in zip(rows, ds):
        assert raw["tools"] == openai_tools()
        for m in raw["messages"]:
            assert set(m) == KEYS
            assert m["train"] == (m["role"] == "assistant")  # no masking asked for
            for c in m["tool_calls"]:
                assert isinstance(c["function"]["arguments"], str)
        assert raw["messages"][raw["meta"]["kept_messages"] - 1]["role"] in ("assistant", "tool")
        # both the raw rows and the Arrow round trip render through the tool template
        for example in (raw, loaded):
            text = tokenizer.apply_chat_template(example["messages"], tools=example["tools"], tokenize=False)
            assert '"name": "str_replace_editor"' in text  # the tool schemas are in the prompt
            for m in raw["messages"]:
                if m["reasoning_content"]:
                    assert f"<think>\n{m['reasoning_content']}\n</think>" in text  # reasoning survives
        n = len(tokenizer(tokenizer.apply_chat_template(raw["messages"], tools=raw["tools"], tokenize=False),
                          add_special_tokens=False)["input_ids"])
        assert n == raw["meta"]["n_tokens"] <= 4000


def test_truncated_long_rollout_and_ratio_order(store, corpus, tokenizer_dir, tmp_path):
    out = tmp_path / "sft.jsonl"
    export_dataset(store, out, FilterSpec(), ExportOptions(tokenizer=str(tokenizer_dir), max_len=4000))
    rows = lines(out)
    ratios = [r["meta"]["truncation_ratio"] for r in rows]
    assert ratios == sorted(ratios, reverse=True)
    long = next(r for r in rows if r["meta"]["rollout_id"] == corpus["long"])
    meta = long["meta"]
    assert meta["total_messages"] == 18 and meta["kept_messages"] < 18
    assert len(long["messages"]) == meta["kept_messages"]
    assert meta["truncation_ratio"] == pytest.approx(meta["kept_messages"] / 18)
    assert long["messages"][-1]["role"] == "assistant"
    # a minimum ratio drops it and says why
    s = export_dataset(store, tmp_path / "b.jsonl", FilterSpec(),
                       ExportOptions(tokenizer=str(tokenizer_dir), max_len=4000, min_ratio=0.95))
    assert s.exported == 2 and s.dropped["truncation ratio below 0.95"] == 1


def test_mask_failed_tool_calls(store, corpus, tmp_path):
    out = tmp_path / "m.jsonl"
    export_dataset(store, out, FilterSpec(stage="T2"), ExportOptions(mask_failed_tool_calls=True))
    (row,) = [r for r in lines(out) if r["meta"]["rollout_id"] == corpus["failing"]]
    flags = [(m["role"], m["train"]) for m in row["messages"] if m["role"] in ("assistant", "tool")]
    # the pytest call failed: its turn stays in context but out of the loss; later turns train
    assert flags == [("assistant", False), ("tool", False), ("assistant", True), ("tool", False),
                     ("assistant", True), ("tool", False)]
    assert row["messages"][2]["reasoning_content"] == "Try the tests."


def test_recorded_dataset_rebuilds_exactly(store, corpus, tokenizer_dir, tmp_path):
    out = tmp_path / "sft.jsonl"
    spec = FilterSpec(max_patch_lines=40, categories=["validation"])
    s = export_dataset(store, out, spec, ExportOptions(tokenizer=str(tokenizer_dir), max_len=4000,
                                                       mask_failed_tool_calls=True), name="v1")
    ds, examples = get_dataset(store, "v1")
    assert (ds.format, ds.tokenizer, ds.max_len, ds.n_examples, ds.path) == (
        "openai", str(tokenizer_dir.resolve()), 4000, 3, str(out))
    assert FilterSpec.from_dict(ds.filters) == spec
    assert ds.filters["export"]["mask_failed_tool_calls"] is True
    rows = lines(out)
    assert [e.rollout_id for e in examples] == [r["meta"]["rollout_id"] for r in rows]
    assert [e.truncation_ratio for e in examples] == [r["meta"]["truncation_ratio"] for r in rows]
    assert [e.n_tokens for e in examples] == [r["meta"]["n_tokens"] for r in rows]
    # new rollouts arriving later do not change the rebuilt dataset
    StoreBuilder(store, repo="later").rollout(None, "imported")
    again = rebuild_dataset(store, "v1", tmp_path / "again.jsonl")
    assert (tmp_path / "again.jsonl").read_bytes() == out.read_bytes()
    assert again.exported == s.exported
    with pytest.raises(StoreError, match="already exists"):
        export_dataset(store, tmp_path / "x.jsonl", spec, name="v1")
    with pytest.raises(StoreError, match="no dataset"):
        rebuild_dataset(store, "nope")


def test_hermes_format(store, corpus, tmp_path):
    import datasets

    out = tmp_path / "h.jsonl"
    export_dataset(store, out, FilterSpec(stage="T2"), ExportOptions(format="hermes"))
    (row,) = [r for r in lines(out) if r["meta"]["rollout_id"] == corpus["failing"]]
    msgs = row["messages"]
    assert all(set(m) == {"role", "content", "train"} for m in msgs)
    assert msgs[0]["role"] == "system" and "<tools>" in msgs[0]["content"]
    assert '"name": "str_replace_editor"' in msgs[0]["content"]
    first = msgs[2]
    assert first["role"] == "assistant" and first["content"].startswith("<think>\nTry the tests.\n</think>\n\n")
    call = first["content"].split("<tool_call>\n")[1].split("\n</tool_call>")[0]
    assert json.loads(call) == {"name": "bash", "arguments": {"command": "pytest"}}
    assert msgs[3] == {"role": "user", "content": "<tool_response>\n1 failed\n</tool_response>", "train": False}
    assert [m["role"] for m in msgs].count("tool") == 0
    assert datasets.load_dataset("json", data_files=str(out), split="train").num_rows == 2


def test_cli_export(workspace, tmp_path):
    store = workspace.open_store()
    b = StoreBuilder(store)
    t = b.task(category="naming")
    b.rollout(t, "T1")
    b.rollout(t, "T2", patch_lines=60)
    store.close()
    runner = CliRunner()
    ws = ["--workspace", str(workspace.root)]
    out = tmp_path / "cli.jsonl"
    r = runner.invoke(app, [*ws, "export", "--out", str(out), "--max-patch-lines", "40", "--json",
                            "--name", "cli", "--category", "naming"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert (summary["selected"], summary["exported"], summary["name"]) == (1, 1, "cli")
    assert len(lines(out)) == 1
    # bad input: one line, exit 2, nothing written or recorded
    for args, msg in ((["--format", "xml"], "--format must be openai or hermes"),
                      (["--min-recall", "1.5"], "--min-recall must be between 0 and 1"),
                      (["--verdict", "maybe"], "--verdict must be one of"),
                      (["--since", "yesterday"], "--since must be a date"),
                      (["--tokenizer", "./no-such-tokenizer"], "no tokenizer at ./no-such-tokenizer")):
        bad = tmp_path / "bad.jsonl"
        r = runner.invoke(app, [*ws, "export", "--out", str(bad), *args])
        assert r.exit_code == 2, (args, r.output)
        assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert not bad.exists()
    r = runner.invoke(app, [*ws, "export", "--out", str(out)])
    assert r.exit_code == 2 and "already exists; pass --force" in r.stderr
    r = runner.invoke(app, [*ws, "export", "--out", str(tmp_path / "n.jsonl"), "--name", "cli"])
    assert r.exit_code == 2 and "a dataset named 'cli' already exists" in r.stderr
    assert not (tmp_path / "n.jsonl").exists()


def test_export_refuses_a_read_only_store_before_writing(workspace, tmp_path):
    from store import Store

    s = workspace.open_store()
    StoreBuilder(s).pair()
    s.close()
    ro = Store.open(workspace.db_path, read_only=True)
    try:
        with pytest.raises(StoreError, match="read-only"):
            export_dataset(ro, tmp_path / "ro.jsonl", FilterSpec())
    finally:
        ro.close()
    assert not (tmp_path / "ro.jsonl").exists()
