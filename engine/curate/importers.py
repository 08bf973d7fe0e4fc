"""Import trajectories written by other agents as `imported` rollouts (schemas: DESIGN §8).

- SWE-agent `.traj`: `history` in the function-calling form (assistant `tool_calls`, `tool` replies)
  or the text-action form (assistant `thought` + `action`, observations as `user` turns).
- mini-swe-agent `.traj.json`: `messages` whose assistant turns hold one fenced ```bash block (older)
  or tool calls (newer); observations `<returncode>N</returncode><output>…`.
- OpenHands `output.jsonl`: one instance per line, `history` of events (actions/observations).

Every imported chat is mapped to our Message model with our SWE-agent tool names (shell actions
become `bash` calls, the final submission a `submit` call), so it can be curated and exported like
our own rollouts. Final patches are kept byte for byte (CRLF included).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.tools.schema import BASH_TOOL, EDITOR_TOOL, SUBMIT_TOOL
from engine.trajectory import Message, ToolCall
from store.rollouts import count_patch_lines as _count_patch_lines


class ImportFormatError(ValueError):
    """The file is not one of the known formats, or is broken; the message says what was wrong."""


@dataclass
class ImportedTrajectory:
    source: str                 # swe-agent | mini-swe-agent | openhands
    source_ref: str | None      # instance id
    messages: list[Message]
    patch: str | None
    exit_reason: str
    model: str | None = None
    cost: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    task_text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def patch_lines(self) -> int:
        return count_patch_lines(self.patch)


def count_patch_lines(patch: str | None) -> int:
    """Changed (+/-) lines of a unified diff, headers excluded; CRLF or LF (the store's own rule)."""
    return _count_patch_lines(patch) if patch else 0


def _exit_reason(status: Any) -> str:
    """Foreign exit statuses in our vocabulary; 'submitted' only for a real submit."""
    s = str(status or "").strip()
    low = s.lower()
    if low == "submitted":
        return "submitted"
    if "context" in low:
        return "context_exceeded"
    if any(w in low for w in ("cost", "limit", "step", "iteration")):
        return "step_limit"
    if "format" in low or "error" in low:
        return "model_error"
    return low.replace(" ", "_") or "unknown"


class _Ids:
    def __init__(self, prefix: str):
        self.prefix, self.n = prefix, 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}_{self.n}"


def _text(content: Any) -> str:
    """Message content that may be a string or a list of {type: text, text} blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c.get("text", "") if isinstance(c, dict) else str(c) for c in content)
    return str(content)


def _calls(raw: list[dict[str, Any]] | None, ids: _Ids) -> list[ToolCall]:
    out = []
    for c in raw or []:
        fn = c.get("function") or c
        args = fn.get("arguments", "")
        out.append(ToolCall(id=str(c.get("id") or ids()), name=str(fn.get("name") or ""),
                            arguments=args if isinstance(args, str) else json.dumps(args)))
    return out


def _bash_call(command: str, ids: _Ids) -> ToolCall:
    return ToolCall(id=ids(), name=BASH_TOOL, arguments=json.dumps({"command": command}))


def _submit_call(ids: _Ids) -> ToolCall:
    return ToolCall(id=ids(), name=SUBMIT_TOOL, arguments="{}")


_RETURNCODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>")


def _tool_error_from_output(text: str) -> bool:
    m = _RETURNCODE.search(text)
    return bool(m and int(m.group(1)) != 0)


# -- SWE-agent .traj -----------------------------------------------------------------------------

def _swe_agent(data: dict[str, Any], path: Path) -> ImportedTrajectory:
    history = data.get("history")
    if not isinstance(history, list) or not history:
        raise ImportFormatError("SWE-agent .traj without a 'history' list")
    info = data.get("info") or {}
    ids = _Ids("swe")
    msgs: list[Message] = []
    pending: list[str] = []  # call ids of the last text-action assistant turn awaiting an observation
    for h in history:
        if not isinstance(h, dict) or "role" not in h:
            raise ImportFormatError("history entry without a role")
        if h.get("is_demo") or h.get("message_type") == "demonstration":
            continue
        role, content = h["role"], _text(h.get("content"))
        if role == "system":
            msgs.append(Message(role="system", content=content))
        elif role == "assistant":
            if h.get("tool_calls"):
                thought = h.get("thought")
                msgs.append(Message(role="assistant", content=thought if thought is not None else content,
                                    tool_calls=_calls(h["tool_calls"], ids)))
                pending = []
            else:
                action = (h.get("action") or "").strip()
                thought = h.get("thought")
                call = None
                if action:
                    call = _submit_call(ids) if action == "submit" else _bash_call(action, ids)
                msgs.append(Message(role="assistant", content=thought if thought is not None else content,
                                    tool_calls=[call] if call else []))
                pending = [call.id] if call else []
        elif role == "tool":
            call_ids = h.get("tool_call_ids") or [h.get("tool_call_id")]
            msgs.append(Message(role="tool", content=content, tool_call_id=call_ids[0] if call_ids else None,
                                name=_name_of(msgs, call_ids[0] if call_ids else None)))
        elif role == "user":
            if pending:  # text-action form: the observation of the previous action
                msgs.append(Message(role="tool", content=content, tool_call_id=pending[0],
                                    name=_name_of(msgs, pending[0])))
                pending = []
            else:
                msgs.append(Message(role="user", content=content))
        else:
            raise ImportFormatError(f"unknown history role {role!r}")
    stats = info.get("model_stats") or {}
    first_user = next((m.content for m in msgs if m.role == "user"), None)
    return ImportedTrajectory(
        source="swe-agent", source_ref=data.get("instance_id") or _instance_from_name(path),
        messages=msgs, patch=info.get("submission"), exit_reason=_exit_reason(info.get("exit_status")),
        model=_swe_agent_model(data), cost=float(stats.get("instance_cost") or 0),
        prompt_tokens=int(stats.get("tokens_sent") or 0), completion_tokens=int(stats.get("tokens_received") or 0),
        task_text=first_user)


def _swe_agent_model(data: dict[str, Any]) -> str | None:
    cfg = data.get("replay_config")
    if isinstance(cfg, str):
        try:
            cfg = json.loads(cfg)
        except json.JSONDecodeError:
            cfg = None
    try:
        return str(cfg["agent"]["model"]["name"])  # type: ignore[index]
    except (TypeError, KeyError):
        return None


def _name_of(msgs: list[Message], call_id: str | None) -> str | None:
    for m in reversed(msgs):
        for c in m.tool_calls:
            if c.id == call_id:
                return c.name
    return None


def _instance_from_name(path: Path) -> str:
    name = path.name
    for suffix in (".traj.json", ".traj", ".json", ".jsonl"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


# -- mini-swe-agent .traj.json -------------------------------------------------------------------

_BASH_BLOCK = re.compile(r"```bash\s*\n(.*?)\n```", re.DOTALL)
_MINI_SUBMIT = ("COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", "MINI_SWE_AGENT_FINAL_OUTPUT")


def _mini_call(command: str, ids: _Ids) -> ToolCall:
    first = command.strip().splitlines()[0] if command.strip() else ""
    if any(marker in first for marker in _MINI_SUBMIT):
        return _submit_call(ids)  # mini-swe-agent submits by echoing a marker then the diff
    return _bash_call(command, ids)


def _mini_swe_agent(data: dict[str, Any], path: Path) -> ImportedTrajectory:
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ImportFormatError("mini-swe-agent trajectory without a 'messages' list")
    info = data.get("info") or {}
    ids = _Ids("mini")
    msgs: list[Message] = []
    pending: str | None = None
    for m in raw:
        if not isinstance(m, dict) or "role" not in m:
            raise ImportFormatError("message without a role")
        role, content = m["role"], _text(m.get("content"))
        if role == "system":
            msgs.append(Message(role="system", content=content))
        elif role == "assistant":
            if m.get("tool_calls"):
                calls = [_mini_call(json.loads(c.arguments).get("command", ""), ids)
                         if c.name == BASH_TOOL and _is_json_obj(c.arguments) else c
                         for c in _calls(m["tool_calls"], ids)]
                # keep the producer's call ids so tool replies still point at them
                for c, orig in zip(calls, m["tool_calls"]):
                    if orig.get("id"):
                        c.id = str(orig["id"])
                msgs.append(Message(role="assistant", content=content, tool_calls=calls))
                pending = None
            else:
                blocks = _BASH_BLOCK.findall(content)
                call = _mini_call(blocks[0], ids) if len(blocks) == 1 else None
                text = _BASH_BLOCK.sub("", content).rstrip() if call else content
                msgs.append(Message(role="assistant", content=text, tool_calls=[call] if call else []))
                pending = call.id if call else None
        elif role == "tool":
            msgs.append(Message(role="tool", content=content, tool_call_id=m.get("tool_call_id"),
                                name=_name_of(msgs, m.get("tool_call_id")),
                                tool_error=_tool_error_from_output(content)))
        elif role == "user":
            if pending:
                msgs.append(Message(role="tool", content=content, tool_call_id=pending,
                                    name=_name_of(msgs, pending), tool_error=_tool_error_from_output(content)))
                pending = None
            else:
                msgs.append(Message(role="user", content=content))
        elif role == "exit":
            continue  # newer versions close with an exit marker message; the patch is in info
        else:
            raise ImportFormatError(f"unknown message role {role!r}")
    stats = info.get("model_stats") or {}
    config = info.get("config") or {}
    model = (config.get("model") or {}).get("model_name") if isinstance(config.get("model"), dict) else None
    first_user = next((m.content for m in msgs if m.role == "user"), None)
    return ImportedTrajectory(
        source="mini-swe-agent", source_ref=data.get("instance_id") or _instance_from_name(path), messages=msgs,
        patch=info.get("submission"), exit_reason=_exit_reason(info.get("exit_status")), model=model,
        cost=float(stats.get("instance_cost") or 0), task_text=first_user)


def _is_json_obj(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


# -- OpenHands output.jsonl ----------------------------------------------------------------------

_OH_EDITOR_ARGS = ("command", "path", "file_text", "old_str", "new_str", "insert_line", "view_range")


def _openhands_events(history: list[Any]) -> Iterator[dict[str, Any]]:
    for ev in history:
        if isinstance(ev, list):  # older output: [action, observation] pairs
            yield from (e for e in ev if isinstance(e, dict))
        elif isinstance(ev, dict):
            yield ev


def _openhands_instance(data: dict[str, Any]) -> ImportedTrajectory:
    history = data.get("history")
    if not isinstance(history, list):
        raise ImportFormatError("OpenHands line without a 'history' list")
    ids = _Ids("oh")
    msgs: list[Message] = []
    by_event: dict[Any, str] = {}  # action event id -> our tool call id
    for ev in _openhands_events(history):
        args = ev.get("args") or {}
        meta = ev.get("tool_call_metadata") or {}
        if "action" in ev:
            action = ev["action"]
            thought = args.get("thought") or ""
            if action == "system":
                msgs.append(Message(role="system", content=args.get("content") or ev.get("message") or ""))
                continue
            if action == "message":
                content = args.get("content") or ev.get("message") or ""
                msgs.append(Message(role="user" if ev.get("source") == "user" else "assistant", content=content))
                continue
            call_id = str(meta.get("tool_call_id") or ids())
            if action == "run":
                call = ToolCall(call_id, BASH_TOOL, json.dumps({"command": args.get("command", "")}))
            elif action in ("edit", "read") and (args.get("command") or action == "read"):
                payload = {k: args[k] for k in _OH_EDITOR_ARGS if args.get(k) not in (None, "")}
                payload.setdefault("command", "view")
                call = ToolCall(call_id, EDITOR_TOOL, json.dumps(payload))
            elif action == "finish":
                call = ToolCall(call_id, SUBMIT_TOOL, "{}")
                thought = thought or args.get("final_thought") or args.get("message") or ""
            else:  # think, browse, …: kept faithfully under the producer's tool name
                fn = meta.get("function_name") or action
                call = ToolCall(call_id, str(fn), json.dumps({k: v for k, v in args.items() if k != "thought"}))
            msgs.append(Message(role="assistant", content=thought, tool_calls=[call]))
            if ev.get("id") is not None:
                by_event[ev["id"]] = call_id
        elif "observation" in ev:
            obs = ev["observation"]
            if obs in ("null", "agent_state_changed", "user_rejected", "recall"):
                continue
            call_id = (meta.get("tool_call_id") and str(meta["tool_call_id"])) or by_event.get(ev.get("cause"))
            if call_id is None:
                continue  # an observation no action of the chat asked for (environment chatter)
            extras = ev.get("extras") or {}
            code = (extras.get("metadata") or {}).get("exit_code", extras.get("exit_code"))
            msgs.append(Message(role="tool", content=ev.get("content") or ev.get("message") or "",
                                tool_call_id=call_id, name=_name_of(msgs, call_id),
                                tool_error=obs == "error" or (code not in (None, 0, -1) and code != 0)))
    if not any(m.role == "user" for m in msgs) and data.get("instruction"):
        msgs.insert(1 if msgs and msgs[0].role == "system" else 0,
                    Message(role="user", content=str(data["instruction"])))
    _answer_unfinished_calls(msgs)
    test_result = data.get("test_result") or {}
    patch = test_result.get("git_patch") if isinstance(test_result, dict) else None
    finished = any(c.name == SUBMIT_TOOL for m in msgs for c in m.tool_calls)
    error = data.get("error")
    metadata = data.get("metadata") or {}
    llm = metadata.get("llm_config") or {}
    metrics = data.get("metrics") or {}
    return ImportedTrajectory(
        source="openhands", source_ref=str(data.get("instance_id")) if data.get("instance_id") else None,
        messages=msgs, patch=patch, exit_reason="submitted" if finished and not error else _exit_reason(
            error or "no_finish"), model=llm.get("model"), cost=float(metrics.get("accumulated_cost") or 0),
        task_text=data.get("instruction"), extra={"error": error} if error else {})


def _answer_unfinished_calls(msgs: list[Message]) -> None:
    """OpenHands' finish has no observation; give it an empty one so every call is answered."""
    answered = {m.tool_call_id for m in msgs if m.role == "tool"}
    for i in range(len(msgs) - 1, -1, -1):
        m = msgs[i]
        for c in m.tool_calls:
            if c.name == SUBMIT_TOOL and c.id not in answered:
                msgs.insert(i + 1, Message(role="tool", content="", tool_call_id=c.id, name=SUBMIT_TOOL))


# -- dispatch ------------------------------------------------------------------------------------

@dataclass
class ImportResult:
    path: str
    rollout_ids: list[int] = field(default_factory=list)
    error: str | None = None
    skipped: int = 0  # trajectories of this file imported before


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ImportFormatError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def parse_file(path: str | Path) -> list[ImportedTrajectory]:
    """Read one file into trajectories (several for an OpenHands output.jsonl)."""
    path = Path(path)
    if not path.is_file():
        raise ImportFormatError("no such file" if not path.exists() else "not a regular file")
    name = path.name
    if name.endswith(".jsonl"):
        out = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise ImportFormatError("not UTF-8 text") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ImportFormatError(f"line {n}: invalid JSON ({exc.msg})") from None
            if not isinstance(data, dict) or "history" not in data:
                raise ImportFormatError(f"line {n}: not an OpenHands output record (no 'history')")
            try:
                out.append(_openhands_instance(data))
            except ImportFormatError as exc:
                raise ImportFormatError(f"line {n}: {exc}") from None
        if not out:
            raise ImportFormatError("empty file")
        return out
    data = _load_json(path)
    if not isinstance(data, dict):
        raise ImportFormatError("expected a JSON object at the top level")
    parser: Callable[[dict, Path], ImportedTrajectory] | None = None
    if "history" in data and ("trajectory" in data or "info" in data):
        parser = _swe_agent
    elif "messages" in data and ("info" in data or "trajectory_format" in data):
        parser = _mini_swe_agent
    if parser is None:
        raise ImportFormatError("unknown trajectory format (expected SWE-agent .traj, mini-swe-agent "
                                ".traj.json or OpenHands output.jsonl)")
    try:
        return [parser(data, path)]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ImportFormatError(f"malformed {parser.__name__.strip('_').replace('_', '-')} data ({exc})") from None


def import_paths(store: Any, paths: list[str | Path], repo: str | None = None) -> list[ImportResult]:
    """Import every file; a broken one is reported in its result and the rest still import."""
    from store import curation
    from store.repos import require_repo
    from store.runs import create_run, finish_run

    repo_id = require_repo(store, repo).id if repo else None
    run_id = create_run(store, "import", repo_id=repo_id, config={"paths": [str(p) for p in paths], "repo": repo})
    results = []
    for p in paths:
        res = ImportResult(str(p))
        try:
            trajs = parse_file(p)
        except ImportFormatError as exc:
            res.error = str(exc)
            results.append(res)
            continue
        source_path = str(Path(p).resolve())
        seen = curation.imported_refs(store, source_path)
        for t in trajs:
            if t.source_ref in seen:
                res.skipped += 1
                continue
            res.rollout_ids.append(curation.add_imported_rollout(
                store, run_id=run_id, source=t.source, source_ref=t.source_ref,
                source_path=source_path, task_text=t.task_text, model=t.model,
                exit_reason=t.exit_reason, patch=t.patch, patch_lines=t.patch_lines, messages=t.messages,
                cost=t.cost, prompt_tokens=t.prompt_tokens, completion_tokens=t.completion_tokens,
                error=(t.extra.get("error") and str(t.extra["error"])) or None))
        results.append(res)
    failed = [r for r in results if r.error]
    finish_run(store, run_id, "failed" if failed and len(failed) == len(results) else "finished",
               f"{len(failed)} file(s) failed" if failed else None)
    return results
