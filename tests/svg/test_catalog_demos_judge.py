"""Instruction catalog, demonstrations and the judge/PR answer checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.svg.catalog import CatalogError, load_catalog, select_categories
from engine.svg.demos import DemoError, builtin_demonstrations, file_demonstrations, load_demonstrations
from engine.svg.judge import parse_verdict, pr_problem
from tests.conftest import git


def test_builtin_catalog_has_generic_plus_50_themes_naming_function_and_file() -> None:
    cats = load_catalog()
    assert len(cats) >= 51 and "generic" in cats
    for theme in ("resource-cleanup", "input-validation", "error-handling", "state-management", "concurrency",
                  "api-contract", "performance", "edge-cases", "documentation", "security", "naming",
                  "idempotency", "null-safety", "timeouts"):
        assert theme in cats
    text = cats["timeouts"].instruction(function="Pool.acquire", file="db/pool.py")
    assert "`Pool.acquire`" in text and "`db/pool.py`" in text and "`acquire`" in text
    assert "calls it" in text  # the cause may be in the function, its callees or its callers
    assert len({c.symptom for c in cats.values()}) == len(cats)


def test_user_file_extends_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "cats.toml"
    f.write_text('[[category]]\nid = "timeouts"\nsymptom = "it hangs"\n\n'
                 '[[category]]\nid = "billing"\nname = "Billing"\nsymptom = "invoices are wrong"\n'
                 'template = "Calling {function} in {file}: {symptom}."\n')
    cats = load_catalog(f)
    assert cats["timeouts"].symptom == "it hangs"
    assert cats["billing"].instruction(function="bill", file="b.py") == "Calling bill in b.py: invoices are wrong."
    assert len(cats) == len(load_catalog()) + 1


def test_include_exclude_and_unknown_ids() -> None:
    cats = load_catalog()
    assert [c.id for c in select_categories(cats, ["timeouts", "security"])] == ["timeouts", "security"]
    assert "security" not in {c.id for c in select_categories(cats, exclude=["security"])}
    with pytest.raises(CatalogError, match="unknown category: nope"):
        select_categories(cats, ["nope"])
    with pytest.raises(CatalogError, match="no category left"):
        select_categories(cats, ["security"], ["security"])


def test_bad_user_catalog_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[[category]]\nname = 'x'\n")
    with pytest.raises(CatalogError, match="needs at least `id` and `symptom`"):
        load_catalog(f)
    f.write_text("not = [toml")
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(f)


def test_demonstration_sources(tmp_path: Path, make_repo) -> None:
    assert len(builtin_demonstrations()) >= 5
    f = tmp_path / "issues.md"
    f.write_text("First issue\n\nsomething breaks\n---\nSecond issue\n\nother thing\n")
    assert [d.source for d in file_demonstrations(f)] == ["file:issues.md#1", "file:issues.md#2"]
    repo = make_repo({"a.py": "x = 1\n"})
    (repo / "a.py").write_text("x = 2\n")
    long_msg = ("Parser drops the final record when the input lacks a trailing newline\n\n" +
                "When a file ends without a newline the last line is silently ignored by read_all, "
                "so exports are short by one row and nobody notices until totals disagree.")
    git(repo, "commit", "-qam", long_msg)
    mined = load_demonstrations("git", repo)
    assert len(mined) == 1 and mined[0].text.startswith("Parser drops")  # "initial" is too short
    with pytest.raises(DemoError, match="unknown demonstrations source"):
        load_demonstrations("nowhere", repo)


def test_verdict_and_pr_rules() -> None:
    assert parse_verdict("YES. The change guards the None case.") is True
    assert parse_verdict("**No** - it edits an unrelated file") is False
    assert parse_verdict("Let me think.\nThe edit is fine.\nYes") is True
    assert parse_verdict("It depends.") is None
    ok = "Crash when the list is empty\n\nCalling `mean_size([])` raises ZeroDivisionError instead of 0."
    assert pr_problem(ok) is None
    assert pr_problem("too short") is not None
    assert "already fixed" in pr_problem(ok + " This was already fixed in the latest change.")
    assert "tests" in pr_problem(ok + " The unit tests fail.")
    assert "diff" in pr_problem(ok + "\ndiff --git a/x b/x\n")
