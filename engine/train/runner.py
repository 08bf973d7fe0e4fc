"""Engine side of training: start the worker subprocess, store its progress, emit events, cancel.

`start_train(store, config, bus)` returns at once with a TrainHandle (the TUI calls it in a worker);
`run_train(...)` is the blocking form the CLI uses. The worker writes JSON lines on stdout; every
`progress` record becomes a train_metrics row and a TrainProgress event.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.events import EventBus, RunFinished, TrainProgress
from engine.train.config import TrainConfig
from engine.train.data import DatasetError
from engine.train.launch import worker_command
from store import Store
from store import training as db

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TrainResult:
    train_run_id: int
    status: str  # finished | failed | cancelled
    final_loss: float | None
    error: str | None
    final: dict[str, Any] | None
    returncode: int | None


def resolve_dataset(store: Store | None, name_or_file: str) -> tuple[str, int | None]:
    """(JSONL path, dataset id or None): a file path, else a dataset name recorded by `sera export`."""
    p = Path(name_or_file).expanduser()
    if p.is_file():
        return str(p.resolve()), None
    found = db.dataset_by_name(store, name_or_file) if store is not None else None
    if found is None:
        raise DatasetError(f"--dataset {name_or_file!r} is neither a JSONL file nor a dataset recorded in the store")
    dataset_id, path = found
    if not path or not Path(path).is_file():
        raise DatasetError(f"dataset {name_or_file!r} points at {path}, which does not exist (export it again)")
    return str(Path(path).resolve()), dataset_id


class TrainHandle:
    def __init__(self, store: Store, train_run_id: int, proc: subprocess.Popen, config: TrainConfig,
                 bus: EventBus | None, on_record: Callable[[dict[str, Any]], None] | None):
        self.store, self.train_run_id, self.proc, self.config = store, train_run_id, proc, config
        self.bus, self.on_record = bus, on_record
        self.final: dict[str, Any] | None = None
        self.last_error: str | None = None
        self.stderr_tail: deque[str] = deque(maxlen=40)
        self._cancelled = threading.Event()
        self._done = threading.Event()
        self.result: TrainResult | None = None
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._stdout_thread = threading.Thread(target=self._read_stdout, daemon=True)
        self._stderr_thread.start()
        self._stdout_thread.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def _read_stderr(self) -> None:
        log = Path(self.config.out_dir) / "train.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as fh:
            for line in self.proc.stderr:  # type: ignore[union-attr]
                fh.write(line)
                if line.strip():
                    self.stderr_tail.append(line.rstrip())

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = {"event": "log", "message": line}
            if not isinstance(record, dict):
                record = {"event": "log", "message": line}
            self._handle(record)
        self.proc.wait()
        self._stderr_thread.join(timeout=5)
        self._finish()

    def _handle(self, record: dict[str, Any]) -> None:
        kind = record.get("event")
        if kind == "progress":
            db.add_metric(self.store, self.train_run_id, record)
        elif kind == "final":
            self.final = record
        elif kind == "error":
            self.last_error = str(record.get("message"))
        if self.on_record:
            self.on_record(record)
        if self.bus:
            if kind == "progress":
                self.bus.emit(TrainProgress(
                    run_id=None, train_run_id=self.train_run_id, step=int(record.get("step") or 0),
                    max_steps=int(record.get("max_steps") or 0), epoch=float(record.get("epoch") or 0.0),
                    loss=record.get("loss"), lr=record.get("lr"), tokens_per_s=record.get("tokens_per_s"),
                    gpu_mem_mb=record.get("gpu_mem_mb"), eta_s=record.get("eta_s")))
            elif kind in ("warning", "error", "log", "data", "start"):
                text = record.get("message") or json.dumps({k: v for k, v in record.items() if k != "event"})
                self.bus.emit(TrainProgress(run_id=None, train_run_id=self.train_run_id, log_line=f"{kind}: {text}"))

    def _finish(self) -> None:
        rc = self.proc.returncode
        final = self.final or {}
        if final.get("status") == "finished" and rc == 0:
            status, error = "finished", None
        elif self._cancelled.is_set() or final.get("status") == "cancelled":
            status, error = "cancelled", None
        else:
            status = "failed"
            error = self.last_error or (self.stderr_tail[-1] if self.stderr_tail else None) \
                or f"training worker exited with code {rc}"
        loss = final.get("final_loss")
        db.finish_train_run(self.store, self.train_run_id, status, final_loss=loss, error=error)
        self.result = TrainResult(self.train_run_id, status, loss, error, self.final, rc)
        if self.bus:
            self.bus.emit(RunFinished(run_id=None, status=status, error=error,
                                      summary={"kind": "train", "train_run_id": self.train_run_id, **final}))
        self._done.set()

    def wait(self, timeout: float | None = None) -> TrainResult:
        if not self._done.wait(timeout):
            raise TimeoutError(f"training run {self.train_run_id} still running after {timeout} s")
        assert self.result is not None
        return self.result

    def cancel(self, grace_s: float = 300.0) -> None:
        """SIGTERM (the worker checkpoints at the next optimizer step and exits), SIGKILL after grace_s.

        A step of a large global batch at long context can take minutes, hence the long default."""
        if self.done:
            return
        self._cancelled.set()
        self._signal(signal.SIGTERM)

        def _kill() -> None:
            if not self._done.wait(grace_s):
                self._signal(signal.SIGKILL)

        threading.Thread(target=_kill, daemon=True).start()

    def kill(self) -> None:
        """SIGKILL now (no checkpoint); the run is still marked cancelled."""
        if not self.done:
            self._cancelled.set()
            self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)  # the worker leads its own group (accelerate children too)
        except ProcessLookupError:
            pass


def start_train(store: Store, config: TrainConfig, bus: EventBus | None = None, *,
                dataset_id: int | None = None, on_record: Callable[[dict[str, Any]], None] | None = None,
                python: str | None = None, env: dict[str, str] | None = None) -> TrainHandle:
    config.validate()
    Path(config.out_dir).mkdir(parents=True, exist_ok=True)
    train_run_id = db.create_train_run(
        store, dataset_path=config.dataset_path, base_model=config.base_model, method=config.method,
        out_dir=config.out_dir, config=config.to_dict(), dataset_id=dataset_id)
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), child_env.get("PYTHONPATH")) if p)
    child_env.setdefault("TOKENIZERS_PARALLELISM", "false")
    child_env["PYTHONUNBUFFERED"] = "1"
    try:
        proc = subprocess.Popen(worker_command(config, python), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, bufsize=1, env=child_env, start_new_session=True)
    except OSError as exc:
        db.finish_train_run(store, train_run_id, "failed", error=f"cannot start the training worker: {exc}")
        raise
    db.set_train_pid(store, train_run_id, proc.pid)
    return TrainHandle(store, train_run_id, proc, config, bus, on_record)


def run_train(store: Store, config: TrainConfig, bus: EventBus | None = None, *,
              on_interrupt: Callable[[int], None] | None = None, **kw: Any) -> TrainResult:
    """Blocking run. First Ctrl-C: cancel (checkpoint at the next step); second: kill."""
    handle = start_train(store, config, bus, **kw)
    interrupts = 0
    while True:
        try:
            return handle.wait()
        except KeyboardInterrupt:
            interrupts += 1
            if on_interrupt:
                on_interrupt(interrupts)
            if interrupts == 1:
                handle.cancel()
            else:
                handle.kill()
