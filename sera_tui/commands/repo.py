"""`sera repo add|list`: register local git repositories."""

from __future__ import annotations

from pathlib import Path

import typer

from sera_tui.commands.common import fail, open_store, print_json

app = typer.Typer(no_args_is_help=True)


@app.command("add")
def add(
    path: Path = typer.Argument(..., help="Path of a local git repository (its committed HEAD is used)."),
    name: str | None = typer.Option(None, "--name", "-n", help="Name to register it under (default: folder name)."),
    test_cmd: str | None = typer.Option(None, "--test-cmd", help="Command that runs the repo's tests."),
    as_json: bool = typer.Option(False, "--json", help="Print the registered repo as JSON."),
) -> None:
    """Register a local git repository."""
    from engine.repo import RepoError, describe_repo
    from store.repos import add_repo

    try:
        info = describe_repo(path, name)
    except RepoError as exc:
        fail(str(exc))
    if name is not None and not name.strip():
        fail("--name must not be empty")
    with open_store() as store:
        row = add_repo(store, info.name, info.path, info.head_commit, test_cmd, info.languages)
    if as_json:
        print_json({"id": row.id, "name": row.name, "path": row.path, "head_commit": row.head_commit,
                    "branch": info.branch, "dirty": info.dirty, "files": info.n_files,
                    "languages": info.languages, "test_cmd": row.test_cmd, "notice": info.notice})
        return
    langs = ", ".join(f"{k} {v}" for k, v in info.languages.items()) or "no recognised source files"
    typer.echo(f"registered {row.name}: {row.path} @ {info.head_commit[:12]}"
               f"{f' ({info.branch})' if info.branch else ''}")
    typer.echo(f"  {info.n_files} files at HEAD; languages: {langs}")
    if row.test_cmd:
        typer.echo(f"  tests: {row.test_cmd}")
    if info.notice:
        typer.echo(f"  note: {info.notice}")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON lines.")) -> None:
    """List registered repositories."""
    from store.repos import list_repos

    with open_store() as store:
        repos = list_repos(store)
    if as_json:
        for r in repos:
            print_json({"id": r.id, "name": r.name, "path": r.path, "head_commit": r.head_commit,
                        "test_cmd": r.test_cmd, "languages": r.languages, "added_at": r.added_at})
        return
    if not repos:
        typer.echo("no repositories yet; add one with `sera repo add PATH`")
        return
    for r in repos:
        langs = ", ".join(f"{k} {v}" for k, v in list(r.languages.items())[:4])
        typer.echo(f"{r.name:<20} {(r.head_commit or '')[:12]:<13} {r.path}  [{langs}]")
