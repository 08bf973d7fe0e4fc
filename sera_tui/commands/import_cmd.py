"""`sera import PATH…`: trajectories from SWE-agent, mini-swe-agent and OpenHands as imported rollouts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sera_tui.commands.common import fail, open_store, print_json


def import_(
    paths: Annotated[list[Path], typer.Argument(
        help="Files: SWE-agent *.traj, mini-swe-agent *.traj.json, OpenHands output.jsonl; a directory imports "
             "every such file under it.")],
    repo: Annotated[str | None, typer.Option("--repo", help="Registered repo these trajectories belong to.")]
    = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object with per-file results.")] = False,
) -> None:
    from engine.curate.importers import import_paths
    from store import StoreError

    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and
                           f.name.endswith((".traj", ".traj.json", "output.jsonl")))
            if not found:
                fail(f"{p}: no .traj, .traj.json or output.jsonl files in this directory")
            files.extend(found)
        else:
            files.append(p)
    store = open_store()
    try:
        results = import_paths(store, files, repo=repo)
    except StoreError as exc:
        fail(str(exc))
    finally:
        store.close()
    failed = [r for r in results if r.error]
    if json_out:
        print_json({"imported": sum(len(r.rollout_ids) for r in results), "failed": len(failed),
                    "skipped": sum(r.skipped for r in results),
                    "files": [{"path": r.path, "rollout_ids": r.rollout_ids, "skipped": r.skipped, "error": r.error}
                              for r in results]})
    else:
        for r in results:
            if r.error:
                typer.echo(f"sera: error: {r.path}: {r.error}", err=True)
            else:
                typer.echo(f"{r.path}: {len(r.rollout_ids)} rollout(s) imported"
                           + (f", {r.skipped} already imported before" if r.skipped else ""))
        typer.echo(f"imported {sum(len(r.rollout_ids) for r in results)} rollout(s) from "
                   f"{len(results) - len(failed)} of {len(results)} file(s)")
    if failed:
        raise typer.Exit(1)
