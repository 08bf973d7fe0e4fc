"""str_replace_editor: each command, SWE-agent wording, uniqueness messages, paths that escape."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.tools.clip import clip
from engine.tools.editor import Editor
from engine.tools.paths import ToolError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "wt"
    (root / "pkg" / "sub" / "deep").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "pkg" / "a.py").write_text("x = 1\ny = 2\nx = 1\n")
    (root / "pkg" / "sub" / "b.py").write_text("pass\n")
    (root / "pkg" / "sub" / "deep" / "c.py").write_text("pass\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    return root


@pytest.fixture
def ed(tree: Path) -> Editor:
    return Editor(tree, "/testbed")


def run(ed: Editor, **args) -> str:
    return ed.run(args)


def test_view_file_is_cat_n_numbered_and_view_range_slices(ed: Editor) -> None:
    out = run(ed, command="view", path="/testbed/pkg/a.py")
    assert out.startswith("Here's the result of running `cat -n` on /testbed/pkg/a.py:\n")
    assert "     1\tx = 1\n     2\ty = 2\n     3\tx = 1" in out
    assert run(ed, command="view", path="/testbed/pkg/a.py", view_range=[2, 3]).splitlines()[1:] == \
        ["     2\ty = 2", "     3\tx = 1"]
    assert "     3\tx = 1" in run(ed, command="view", path="pkg/a.py", view_range=[3, -1])  # relative path
    with pytest.raises(ToolError, match="first element `9`"):
        run(ed, command="view", path="/testbed/pkg/a.py", view_range=[9, 10])
    with pytest.raises(ToolError, match="list of two integers"):
        run(ed, command="view", path="/testbed/pkg/a.py", view_range=[1])


def test_view_directory_lists_two_levels_without_hidden(ed: Editor) -> None:
    out = run(ed, command="view", path="/testbed")
    assert "up to 2 levels deep in /testbed" in out
    assert "/testbed/pkg/a.py" in out and "/testbed/pkg/sub" in out
    assert "/testbed/pkg/sub/b.py" not in out  # third level
    assert ".hidden" not in out and ".git" not in out


def test_create_refuses_existing_and_undo_removes_content(ed: Editor, tree: Path) -> None:
    assert run(ed, command="create", path="/testbed/new/mod.py", file_text="a = 1\n") == \
        "File created successfully at: /testbed/new/mod.py"
    assert (tree / "new" / "mod.py").read_text() == "a = 1\n"
    with pytest.raises(ToolError, match="File already exists at: /testbed/pkg/a.py"):
        run(ed, command="create", path="/testbed/pkg/a.py", file_text="boom")
    assert (tree / "pkg" / "a.py").read_text() == "x = 1\ny = 2\nx = 1\n"


def test_str_replace_requires_a_unique_old_str(ed: Editor, tree: Path) -> None:
    with pytest.raises(ToolError) as exc:
        run(ed, command="str_replace", path="/testbed/pkg/a.py", old_str="x = 1", new_str="x = 2")
    assert "Found 2 occurrences" in str(exc.value) and "[1, 3]" in str(exc.value)
    with pytest.raises(ToolError, match="did not appear verbatim"):
        run(ed, command="str_replace", path="/testbed/pkg/a.py", old_str="z = 9", new_str="")
    out = run(ed, command="str_replace", path="/testbed/pkg/a.py", old_str="y = 2", new_str="y = 3")
    assert "has been edited" in out and "     2\ty = 3" in out
    assert (tree / "pkg" / "a.py").read_text() == "x = 1\ny = 3\nx = 1\n"


def test_insert_and_undo_edit_per_file_history(ed: Editor, tree: Path) -> None:
    path = "/testbed/pkg/a.py"
    run(ed, command="insert", path=path, insert_line=1, new_str="# after one")
    assert (tree / "pkg" / "a.py").read_text() == "x = 1\n# after one\ny = 2\nx = 1\n"
    run(ed, command="str_replace", path=path, old_str="y = 2", new_str="y = 5")
    with pytest.raises(ToolError, match="within the range"):
        run(ed, command="insert", path=path, insert_line=99, new_str="z")
    run(ed, command="undo_edit", path=path)
    assert "y = 2" in (tree / "pkg" / "a.py").read_text()
    out = run(ed, command="undo_edit", path=path)
    assert "undone successfully" in out
    assert (tree / "pkg" / "a.py").read_text() == "x = 1\ny = 2\nx = 1\n"
    with pytest.raises(ToolError, match="No edit history found"):
        run(ed, command="undo_edit", path=path)


@pytest.mark.parametrize("path", ["/testbed/../outside.txt", "../outside.txt", "/etc/passwd",
                                  "/testbed/pkg/../../outside.txt", "/testbed/.git/config"])
def test_paths_outside_the_worktree_are_refused(ed: Editor, tree: Path, path: str) -> None:
    (tree.parent / "outside.txt").write_text("secret")
    with pytest.raises(ToolError):
        run(ed, command="view", path=path)
    with pytest.raises(ToolError):
        run(ed, command="create", path=path, file_text="pwned")
    assert (tree.parent / "outside.txt").read_text() == "secret"


def test_symlink_escaping_the_worktree_is_refused(ed: Editor, tree: Path) -> None:
    outside = tree.parent / "target"
    outside.mkdir()
    (outside / "f.py").write_text("keep\n")
    os.symlink(outside, tree / "link")
    with pytest.raises(ToolError, match="outside the repository"):
        run(ed, command="str_replace", path="/testbed/link/f.py", old_str="keep", new_str="gone")
    assert (outside / "f.py").read_text() == "keep\n"
    os.symlink(tree / "pkg" / "a.py", tree / "inner_link.py")  # a link that stays inside is fine
    assert "x = 1" in run(ed, command="view", path="/testbed/inner_link.py")


def test_unknown_command_and_missing_arguments_explain_themselves(ed: Editor) -> None:
    with pytest.raises(ToolError, match="allowed commands"):
        run(ed, command="delete", path="/testbed/pkg/a.py")
    with pytest.raises(ToolError, match="`file_text` is required"):
        run(ed, command="create", path="/testbed/x.py")
    with pytest.raises(ToolError, match="does not exist"):
        run(ed, command="view", path="/testbed/nope.py")


def test_long_output_is_clipped_head_and_tail_with_a_count(tree: Path) -> None:
    (tree / "big.txt").write_text("\n".join(f"line {i}" for i in range(5000)))
    out = Editor(tree, "/testbed", output_limit=2000).run({"command": "view", "path": "/testbed/big.txt"})
    assert "line 0" in out and "line 4999" in out and "line 2500" not in out
    assert "<response clipped:" in out and len(out) < 2200
    text = "a" * 100 + "b" * 100
    clipped = clip(text, 50)
    assert clipped.startswith("a" * 25) and clipped.endswith("b" * 25) and "150 of 200 characters cut" in clipped
    assert clip("short", 50) == "short"
