"""SFT export: filtered rollouts -> truncated chats -> JSONL in OpenAI or Hermes form, recorded in the store.

OpenAI form (what TRL / HF chat templates and the training engine take), one JSON object per line:
    {"messages": [{"role", "content", "reasoning_content", "tool_calls", "tool_call_id", "name", "train"}…],
     "tools": engine.tools.schema.openai_tools(), "meta": {...}}
Every message carries every key (None / [] where it does not apply) so Arrow infers one type for the
column; tool-call arguments stay JSON strings. Only assistant messages may have train=true.

Hermes form (SERA's axolotl text form): {"messages": [{"role", "content", "train"}…], "meta"}: the tool
schemas in the system prompt inside <tools>, reasoning as <think>…</think>, calls as <tool_call>{json}
</tool_call> in assistant content, results as <tool_response> blocks in user turns.

Examples are ordered by truncation ratio (highest first, then rollout id) and the export is recorded
(`datasets` + `dataset_examples`) so `rebuild_dataset` writes the same bytes again.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from engine.curate.truncate import Truncation, load_tokenizer, truncate
from engine.tools.schema import openai_tools
from engine.trajectory import Message
from store import Store, StoreError, curation
from store.filters import FilterSpec

Format = Literal["openai", "hermes"]
FORMATS = ("openai", "hermes")
_CHUNK = 256  # rollouts whose messages are read with one query


@dataclass
class ExportOptions:
    format: Format = "openai"
    max_len: int = 32768
    tokenizer: str | None = None
    min_ratio: float = 0.0
    mask_failed_tool_calls: bool = False
    limit: int | None = None  # keep at most this many examples (the highest ratios)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ExportSummary:
    name: str
    dataset_id: int
    path: str
    format: str
    selected: int
    exported: int
    dropped: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    seconds: float = 0.0
    mean_ratio: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- message rendering ---------------------------------------------------------------------------

def failed_call_turns(messages: Sequence[Message]) -> set[int]:
    """Indices of assistant messages with a tool call whose observation was an error."""
    failed_ids = {m.tool_call_id for m in messages if m.role == "tool" and m.tool_error and m.tool_call_id}
    return {i for i, m in enumerate(messages)
            if m.role == "assistant" and any(c.id in failed_ids for c in m.tool_calls)}


def openai_messages(messages: Sequence[Message], mask_failed_tool_calls: bool = False) -> list[dict[str, Any]]:
    masked = failed_call_turns(messages) if mask_failed_tool_calls else set()
    out = []
    for i, m in enumerate(messages):
        out.append({
            "role": m.role,
            "content": m.content or "",
            "reasoning_content": m.reasoning if m.role == "assistant" and m.reasoning else None,
            "tool_calls": [c.to_openai() for c in m.tool_calls] if m.role == "assistant" else [],
            "tool_call_id": m.tool_call_id if m.role == "tool" else None,
            "name": m.name if m.role == "tool" else None,
            "train": m.role == "assistant" and i not in masked,
        })
    return out


_HERMES_TOOLS_PROMPT = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{tools}\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}}\n</tool_call>"
)


def _hermes_call(call: dict[str, Any]) -> str:
    fn = call["function"]
    try:
        args: Any = json.loads(fn["arguments"]) if fn["arguments"].strip() else {}
    except json.JSONDecodeError:
        args = fn["arguments"]  # malformed arguments are data too: keep the text as the model wrote it
    return "<tool_call>\n" + json.dumps({"name": fn["name"], "arguments": args}, ensure_ascii=False) + "\n</tool_call>"


def hermes_messages(oa: Sequence[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-form messages -> Hermes text turns (consecutive tool results share one user turn)."""
    tools_block = _HERMES_TOOLS_PROMPT.format(tools="\n".join(json.dumps(t, ensure_ascii=False) for t in tools))
    out: list[dict[str, Any]] = []
    if not oa or oa[0]["role"] != "system":
        out.append({"role": "system", "content": tools_block, "train": False})
    for m in oa:
        role = m["role"]
        if role == "system" and not out:
            out.append({"role": "system", "content": (m["content"] + "\n\n" if m["content"] else "") + tools_block,
                        "train": False})
        elif role == "assistant":
            parts = []
            if m["reasoning_content"]:
                parts.append("<think>\n" + m["reasoning_content"].strip("\n") + "\n</think>\n\n")
            parts.append(m["content"])
            calls = "\n".join(_hermes_call(c) for c in m["tool_calls"])
            if calls:
                parts.append(("\n" if m["content"] else "") + calls)
            out.append({"role": "assistant", "content": "".join(parts), "train": m["train"]})
        elif role == "tool":
            block = "<tool_response>\n" + m["content"] + "\n</tool_response>"
            if out and out[-1]["role"] == "user" and out[-1].get("_tool"):
                out[-1]["content"] += "\n" + block
            else:
                out.append({"role": "user", "content": block, "train": False, "_tool": True})
        else:
            out.append({"role": role, "content": m["content"], "train": False})
    for m in out:
        m.pop("_tool", None)
    return out


# -- export --------------------------------------------------------------------------------------

@dataclass
class _Prepared:
    rollout_id: int
    trunc: Truncation
    offset: int
    length: int


def _meta(row: dict[str, Any], t: Truncation) -> dict[str, Any]:
    recall = row.get("recall")
    return {
        "rollout_id": int(row["rollout_id"]),
        "task_id": int(row["task_id"]) if row.get("task_id") is not None else None,
        "stage": row.get("stage"),
        "source": row.get("source"),
        "source_ref": row.get("source_ref"),
        "model": row.get("model"),
        "category": row.get("category"),
        "recall": float(recall) if recall is not None else None,
        "truncation_ratio": t.ratio,
        "kept_messages": t.kept,
        "total_messages": t.total,
        "n_tokens": t.n_tokens,
    }


def _example(msgs: list[Message], row: dict[str, Any], opts: ExportOptions, tokenizer, tools: list[dict]
             ) -> tuple[Truncation, str | None]:
    oa = openai_messages(msgs, opts.mask_failed_tool_calls)
    t = truncate(oa, opts.max_len, tokenizer, tools)
    if t.dropped:
        return t, None
    oa = oa[:t.kept]
    if opts.format == "hermes":
        record: dict[str, Any] = {"messages": hermes_messages(oa, tools), "meta": _meta(row, t)}
        return t, json.dumps(record, ensure_ascii=False) + "\n"
    # Same bytes as json.dumps of {"messages", "tools", "meta"}; the tools part is serialized once.
    return t, ('{"messages": ' + json.dumps(oa, ensure_ascii=False) + ', "tools": ' + _tools_json(tools)
               + ', "meta": ' + json.dumps(_meta(row, t), ensure_ascii=False) + "}\n")


_TOOLS_JSON: list[Any] = [None, ""]  # (the list last serialized, held so its id cannot be reused; its JSON)


def _tools_json(tools: list[dict[str, Any]]) -> str:
    if _TOOLS_JSON[0] is not tools:
        _TOOLS_JSON[:] = [tools, json.dumps(tools, ensure_ascii=False)]
    return _TOOLS_JSON[1]


def _write(store: Store, rows: list[dict[str, Any]], out: Path, opts: ExportOptions,
           keep_order: bool) -> tuple[list[_Prepared], Counter, int]:
    """Render, truncate and write examples; returns the written ones in file order and drop reasons."""
    tokenizer = load_tokenizer(opts.tokenizer) if opts.tokenizer else None
    tools = openai_tools()
    dropped: Counter = Counter()
    prepared: list[_Prepared] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    # Examples are spilled to a scratch file as they are made, then copied in ratio order.
    with tempfile.TemporaryFile("w+b") as spill:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            by_id = curation.load_messages(store, [r["rollout_id"] for r in chunk])
            for row in chunk:
                rid = int(row["rollout_id"])
                msgs = [Message.from_dict(d) for d in by_id.get(rid, [])]
                t, line = _example(msgs, row, opts, tokenizer, tools)
                if line is None:
                    dropped[t.dropped or "dropped"] += 1
                    continue
                if t.ratio < opts.min_ratio:
                    dropped[f"truncation ratio below {opts.min_ratio}"] += 1
                    continue
                data = line.encode("utf-8")
                prepared.append(_Prepared(rid, t, spill.tell(), len(data)))
                spill.write(data)
        if not keep_order:
            prepared.sort(key=lambda p: (-p.trunc.ratio, p.rollout_id))
            if opts.limit is not None and len(prepared) > opts.limit:
                dropped["over --limit"] += len(prepared) - opts.limit
                prepared = prepared[:opts.limit]
        tmp = out.with_name(out.name + ".partial")
        with open(tmp, "wb") as f:
            for p in prepared:
                spill.seek(p.offset)
                f.write(spill.read(p.length))
        os.replace(tmp, out)  # a failed export never leaves a half-written file under the real name
    return prepared, dropped, sum(p.trunc.n_tokens for p in prepared)


def _unique_name(store: Store, base: str) -> str:
    name, n = base, 1
    while curation.dataset_name_taken(store, name):
        n += 1
        name = f"{base}-{n}"
    return name


def export_dataset(store: Store, out: str | Path, spec: FilterSpec, opts: ExportOptions | None = None,
                   name: str | None = None) -> ExportSummary:
    """Select rollouts with `spec`, truncate, write `out` (JSONL) and record the dataset."""
    opts = replace(opts) if opts else ExportOptions()  # a copy: the tokenizer path is resolved below
    if opts.format not in FORMATS:
        raise ValueError(f"unknown format {opts.format!r} (openai or hermes)")
    if not 0.0 <= opts.min_ratio <= 1.0:
        raise ValueError("min ratio must be between 0 and 1")
    if store.read_only:  # checked first: a file without its dataset record could not be rebuilt
        raise StoreError("the database is open read-only; an export records its dataset in it")
    out = Path(out).expanduser().resolve()
    if name is not None and curation.dataset_name_taken(store, name):
        raise StoreError(f"a dataset named {name!r} already exists; choose another --name")
    if opts.tokenizer and Path(opts.tokenizer).expanduser().exists():
        opts.tokenizer = str(Path(opts.tokenizer).expanduser().resolve())  # rebuildable from elsewhere
    t0 = time.perf_counter()
    rows = curation.select_rollouts(store, spec)
    prepared, dropped, tokens = _write(store, rows, out, opts, keep_order=False)
    name = name or _unique_name(store, out.stem)
    filters = {**spec.to_dict(), "export": opts.to_dict()}
    did = curation.record_dataset(
        store, name=name, path=str(out), format=opts.format, filters=filters, tokenizer=opts.tokenizer,
        max_len=opts.max_len,
        examples=[curation.DatasetExample(p.rollout_id, i, p.trunc.ratio, p.trunc.n_tokens)
                  for i, p in enumerate(prepared)])
    return ExportSummary(name, did, str(out), opts.format, len(rows), len(prepared), dict(dropped), tokens,
                         time.perf_counter() - t0,
                         sum(p.trunc.ratio for p in prepared) / len(prepared) if prepared else None)


def rebuild_dataset(store: Store, name: str, out: str | Path | None = None) -> ExportSummary:
    """Write dataset `name` again from its recorded examples, tokenizer and options (same bytes when the
    rollouts and tokenizer are unchanged). Raises StoreError if an example no longer comes out the same."""
    ds, examples = curation.get_dataset(store, name)
    saved = dict(ds.filters.get("export") or {})
    opts = ExportOptions(**{k: v for k, v in saved.items() if k in ExportOptions.__dataclass_fields__})
    opts.format, opts.tokenizer, opts.max_len = ds.format or opts.format, ds.tokenizer, ds.max_len or opts.max_len
    opts.min_ratio, opts.limit = 0.0, None  # the recorded list already is the selection
    spec = FilterSpec.from_dict(ds.filters)
    ids = [e.rollout_id for e in examples]
    by_id = curation.rollout_meta(store, ids, spec.recall_mode)
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise StoreError(f"dataset {name!r} refers to rollouts no longer in the store: {missing[:5]}")
    t0 = time.perf_counter()
    target = Path(out).expanduser().resolve() if out else Path(ds.path)
    prepared, dropped, tokens = _write(store, [by_id[i] for i in ids], target, opts, keep_order=True)
    got = [(p.rollout_id, round(p.trunc.ratio, 9)) for p in prepared]
    want = [(e.rollout_id, round(e.truncation_ratio, 9)) for e in examples]
    if got != want:
        raise StoreError(f"dataset {name!r} no longer rebuilds identically (rollouts or tokenizer changed)")
    return ExportSummary(ds.name, ds.id, str(target), opts.format, len(ids), len(prepared), dict(dropped), tokens,
                         time.perf_counter() - t0,
                         sum(p.trunc.ratio for p in prepared) / len(prepared) if prepared else None)
