"""Recall on hand-written patches, with expected values worked out by hand in the comments."""

from __future__ import annotations

import pytest

from engine.verify import PatchError, changed_line_count, recall

# Two files; "+c" appears twice in x.py and once in y.py.
TARGET_TWO_FILES = """\
diff --git a/x.py b/x.py
index 1111111..2222222 100644
--- a/x.py
+++ b/x.py
@@ -1,2 +1,3 @@
 a
-b
+c
+c
diff --git a/y.py b/y.py
index 3333333..4444444 100644
--- a/y.py
+++ b/y.py
@@ -1 +1 @@
-q
+c
"""

# Only touches y.py, but adds "+c" twice there.
PRODUCED_ONLY_Y = """\
diff --git a/y.py b/y.py
index 3333333..5555555 100644
--- a/y.py
+++ b/y.py
@@ -1 +1,2 @@
-q
+c
+c
"""


def test_pooled_and_per_file_differ_on_duplicates_across_files() -> None:
    # target changed lines: x.py {-b, +c, +c}, y.py {-q, +c}  -> 5
    # sera (pooled): produced multiset {-q: 1, +c: 2}; -b no, +c yes, +c yes, -q yes, +c no (both
    #   "+c" already used by x.py's lines) -> 3/5
    sera = recall(TARGET_TWO_FILES, PRODUCED_ONLY_Y, "sera")
    assert (sera.matched, sera.total, sera.recall) == (3, 5, pytest.approx(0.6))
    assert [t.matched for t in sera.target_lines] == [False, True, True, True, False]
    # per-file: x.py has no counterpart file -> 0/3; y.py -q yes, +c yes -> 2/5
    per_file = recall(TARGET_TWO_FILES, PRODUCED_ONLY_Y, "per-file")
    assert (per_file.matched, per_file.total, per_file.recall) == (2, 5, pytest.approx(0.4))
    assert [t.matched for t in per_file.target_lines] == [False, False, False, True, True]


def test_target_lines_record_file_position_sign_and_counterpart() -> None:
    r = recall(TARGET_TWO_FILES, PRODUCED_ONLY_Y, "sera")
    first = r.target_lines[0]
    assert (first.file, first.sign, first.text, first.line, first.index) == ("x.py", "-", "b", "-b", 6)
    assert TARGET_TWO_FILES.split("\n")[first.index] == "-b"
    assert [t.file for t in r.target_lines] == ["x.py", "x.py", "x.py", "y.py", "y.py"]
    assert r.matched_indices == [7, 8, 14]
    # produced: -q (line 5) pairs with target -q (line 14); +c lines 6, 7 pair with target 7, 8
    assert [(p.index, p.matched, p.counterpart) for p in r.produced_lines] == [
        (5, True, 14), (6, True, 7), (7, True, 8)]
    assert r.to_json() == {"mode": "sera", "recall": 0.6, "matched": 3, "total": 5}


def test_multiset_duplicates_within_one_file() -> None:
    target = "--- a/f\n+++ b/f\n@@ -0,0 +1,3 @@\n+x\n+x\n+x\n"
    produced = "--- a/f\n+++ b/f\n@@ -0,0 +1,2 @@\n+x\n+y\n"
    for mode in ("sera", "per-file"):
        r = recall(target, produced, mode)
        assert (r.matched, r.total) == (1, 3)
        assert [t.matched for t in r.target_lines] == [True, False, False]
        assert [p.matched for p in r.produced_lines] == [True, False]


def _one_file(*changed: str, path: str = "f.py") -> str:
    minus = sum(1 for c in changed if c.startswith("-"))
    plus = len(changed) - minus
    return f"--- a/{path}\n+++ b/{path}\n@@ -1,{minus} +1,{plus} @@\n" + "".join(c + "\n" for c in changed)


def test_sign_and_whitespace_must_match_exactly_in_sera_mode() -> None:
    target = _one_file("-x = 1", "+    x = 2", "+y = 3 ")
    produced = _one_file("+x = 1", "+  x = 2", "+y = 3")
    assert recall(target, produced, "sera").matched == 0  # wrong sign, indent, trailing space
    # per-file ignores trailing whitespace only: "+y = 3 " now matches; indentation still counts
    r = recall(target, produced, "per-file")
    assert (r.matched, r.total) == (1, 3)
    assert [t.matched for t in r.target_lines] == [False, False, True]


def test_skip_rules_header_like_and_blank_lines() -> None:
    # A removed SQL comment "-- old" appears as "--- old"; an added "++ i" as "+++ i"; SERA's rule
    # drops both (they look like file headers), and drops lines blank after the sign.
    target = "--- a/q.sql\n+++ b/q.sql\n@@ -1,2 +1,4 @@\n--- old\n-\n+++ i\n+   \n+\t\n+select 1;\n"
    sera = recall(target, "", "sera")
    assert [(t.file, t.line) for t in sera.target_lines] == [("q.sql", "+select 1;")]  # not "old"
    assert sera.total == 1 and changed_line_count(target) == 1
    # per-file parses hunks, so the comment lines are real changes; blanks are still dropped
    per_file = recall(target, target, "per-file")
    assert [t.line for t in per_file.target_lines] == ["--- old", "+++ i", "+select 1;"]
    assert per_file.recall == 1.0


def test_crlf_is_exact_in_sera_mode_and_normalized_per_file() -> None:
    lf = _one_file("-old", "+new", "+")
    crlf = lf.replace("\n", "\r\n")
    assert recall(crlf, crlf, "sera").recall == 1.0
    r = recall(crlf, lf, "sera")  # "+new\r" != "+new"
    assert (r.matched, r.total) == (0, 2)  # "+\r" is blank after the sign, skipped
    assert recall(crlf, lf, "per-file").recall == 1.0
    assert recall(lf, crlf, "per-file").recall == 1.0
    assert [t.file for t in recall(crlf, crlf, "per-file").target_lines] == ["f.py", "f.py"]
    assert [t.file for t in recall(crlf, crlf, "sera").target_lines] == ["f.py", "f.py"]


NEW_DELETED_RENAMED_BINARY = """\
diff --git a/new.py b/new.py
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/new.py
@@ -0,0 +1,2 @@
+def f():
+    return 1
diff --git a/gone.py b/gone.py
deleted file mode 100644
index e69de29..0000000
--- a/gone.py
+++ /dev/null
@@ -1 +0,0 @@
-x = 1
diff --git a/old_name.py b/new_name.py
similarity index 90%
rename from old_name.py
rename to new_name.py
index 1234567..89abcde 100644
--- a/old_name.py
+++ b/new_name.py
@@ -1,2 +1,2 @@
 import os
-print(os.sep)
+print(os.pathsep)
\\ No newline at end of file
diff --git a/logo.png b/logo.png
index 1111111..2222222 100644
Binary files a/logo.png and b/logo.png differ
diff --git a/moved.txt b/elsewhere.txt
similarity index 100%
rename from moved.txt
rename to elsewhere.txt
"""


@pytest.mark.parametrize("mode", ["sera", "per-file"])
def test_new_deleted_renamed_binary_and_no_newline(mode: str) -> None:
    r = recall(NEW_DELETED_RENAMED_BINARY, NEW_DELETED_RENAMED_BINARY, mode)
    assert [(t.file, t.line) for t in r.target_lines] == [
        ("new.py", "+def f():"), ("new.py", "+    return 1"), ("gone.py", "-x = 1"),
        ("new_name.py", "-print(os.sep)"), ("new_name.py", "+print(os.pathsep)")]
    assert r.recall == 1.0
    # Deleted file matched against a produced patch that deletes only that file
    gone = NEW_DELETED_RENAMED_BINARY.split("diff --git a/old_name.py")[0].split("diff --git a/gone.py")[1]
    r = recall(NEW_DELETED_RENAMED_BINARY, "diff --git a/gone.py" + gone, mode)
    assert (r.matched, r.total) == (1, 5)


def test_diff_without_git_header_and_with_timestamps() -> None:
    target = ("--- src/app.py\t2024-01-01 10:00:00.000000000 +0000\n"
              "+++ src/app.py\t2024-01-02 10:00:00.000000000 +0000\n"
              "@@ -3,1 +3,1 @@\n-a = 1\n+a = 2\n")
    for mode in ("sera", "per-file"):
        r = recall(target, target, mode)
        assert r.recall == 1.0 and r.total == 2
        assert {t.file for t in r.target_lines} == {"src/app.py"}


@pytest.mark.parametrize("mode", ["sera", "per-file"])
def test_empty_produced_is_zero_and_empty_target_is_undefined(mode: str) -> None:
    target = _one_file("-a", "+b")
    r = recall(target, "", mode)
    assert (r.recall, r.matched, r.total) == (0.0, 0, 2)
    assert all(not t.matched for t in r.target_lines)
    for empty in ("", "\n\n", "   \n"):
        r = recall(empty, target, mode)
        assert (r.recall, r.matched, r.total) == (None, 0, 0)
        assert r.to_json()["recall"] is None


@pytest.mark.parametrize("mode", ["sera", "per-file"])
def test_binary_only_target_has_undefined_recall(mode: str) -> None:
    binary = "diff --git a/a.bin b/a.bin\nindex 1..2 100644\nBinary files a/a.bin and b/a.bin differ\n"
    assert recall(binary, binary, mode).recall is None


@pytest.mark.parametrize("mode", ["sera", "per-file"])
@pytest.mark.parametrize("which", ["target", "produced"])
@pytest.mark.parametrize("junk", ["hello world\n", "I changed foo() to return 2.\n+ but no diff here\n",
                                  '{"patch": null}'])
def test_text_that_is_not_a_diff_is_a_one_line_error(mode: str, which: str, junk: str) -> None:
    good = _one_file("-a", "+b")
    args = (junk, good) if which == "target" else (good, junk)
    with pytest.raises(PatchError) as err:
        recall(*args, mode=mode)
    msg = str(err.value)
    assert "\n" not in msg and which in msg and "not a unified diff" in msg


def test_per_file_reports_inconsistent_hunks_as_patch_error() -> None:
    broken = "--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n-a\n+b\n"  # header promises 5 lines
    with pytest.raises(PatchError, match="cannot parse the produced patch"):
        recall(_one_file("+b"), broken, "per-file")
    # SERA's rule only reads +/- lines, so the same text still scores there
    assert recall(_one_file("+b"), broken, "sera").recall == 1.0


def test_hunks_without_file_headers() -> None:
    bare = "@@ -1 +1 @@\n-a\n+b\n"
    assert recall(bare, bare, "sera").recall == 1.0  # SERA reads only the +/- lines
    with pytest.raises(PatchError) as err:  # unidiff needs file headers
        recall(bare, bare, "per-file")
    assert "\n" not in str(err.value) and "target patch" in str(err.value)


def test_missing_patch_counts_as_empty() -> None:
    assert recall(None, None).recall is None
    assert recall(_one_file("+a"), None, "per-file").recall == 0.0


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown recall mode"):
        recall("", "", mode="fuzzy")  # type: ignore[arg-type]


def test_changed_line_count() -> None:
    assert changed_line_count(None) == 0
    assert changed_line_count("") == 0
    assert changed_line_count(TARGET_TWO_FILES) == 5
    assert changed_line_count(NEW_DELETED_RENAMED_BINARY) == 5
    assert changed_line_count("not a diff") == 0  # never raises: it only counts


GIT_BINARY_AND_MODE_CHANGE = """\
diff --git a/b.bin b/b.bin
new file mode 100644
index 0000000000000000000000000000000000000000..6b2aaa7640726588bcd3d57e1de4b1315b7f315e
GIT binary patch
literal 5
McmZ?wbaHkC00rU%Q2+n{

literal 0
HcmV?d00001

diff --git a/run.sh b/run.sh
old mode 100644
new mode 100755
diff --git a/x.py b/x.py
--- a/x.py
+++ b/x.py
@@ -1 +1 @@
-a
+b
"""


@pytest.mark.parametrize("mode", ["sera", "per-file"])
def test_git_binary_patch_and_mode_change_are_read_past(mode: str) -> None:
    r = recall(GIT_BINARY_AND_MODE_CHANGE, "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+c\n", mode)
    assert [(t.file, t.line, t.matched) for t in r.target_lines] == [
        ("x.py", "-a", True), ("x.py", "+b", False)]
