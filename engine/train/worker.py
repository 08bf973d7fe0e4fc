"""`python -m engine.train.worker --config JSON|PATH`: one training run as a subprocess.

stdout carries only JSON lines (start, data, warning, progress, final, error); everything libraries
print goes to stderr. SIGTERM stops at the next step boundary after saving a checkpoint (the final
record then says "cancelled"); `--resume` continues from it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO


def _load_config_text(value: str) -> str:
    return value if value.lstrip().startswith("{") else Path(value).read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.train.worker")
    parser.add_argument("--config", required=True, help="TrainConfig as JSON text or a path to a JSON file")
    ns = parser.parse_args(argv)

    # Keep stdout for our JSON lines only: a dup of the real stdout; fd 1 and sys.stdout -> stderr
    # (Trainer prints its log dicts, native code may write to fd 1).
    sys.stdout.flush()
    out: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    rank0 = os.environ.get("RANK", "0") == "0"
    lock = threading.Lock()

    def emit(record: dict[str, Any]) -> None:
        if rank0:
            with lock:
                out.write(json.dumps(record, default=str) + "\n")
                out.flush()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        from engine.train.config import TrainConfig

        config = TrainConfig.from_json(_load_config_text(ns.config))
        from engine.train import trainer

        final = trainer.run(config, emit, stop)
    except KeyboardInterrupt:
        emit({"event": "error", "message": "interrupted"})
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure becomes one error record
        message = " ".join(str(exc).split()) or type(exc).__name__
        emit({"event": "error", "message": message, "type": type(exc).__name__})
        import traceback

        traceback.print_exc()
        return 1
    return 0 if final.get("status") in ("finished", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main())
