"""Function sampler: parse the committed HEAD with tree-sitter and pick functions, seeded.

SERA samples functions (skipping paths with `tests`, at most 5000 per repo, folder depth <= 3).
We parse every supported language with tree-sitter and also skip vendored and generated code and
functions too small to make an interesting task.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath

from engine.repo import language_of, open_repo

SUPPORTED = ("python", "javascript", "typescript", "tsx", "go", "rust", "java")

# Definitions we sample, and the containers that qualify their names (Class.method).
_FUNCTION_NODES: dict[str, set[str]] = {
    "python": {"function_definition"},
    "javascript": {"function_declaration", "generator_function_declaration", "method_definition"},
    "typescript": {"function_declaration", "generator_function_declaration", "method_definition"},
    "tsx": {"function_declaration", "generator_function_declaration", "method_definition"},
    "go": {"function_declaration", "method_declaration"},
    "rust": {"function_item"},
    "java": {"method_declaration", "constructor_declaration"},
}
_CONTAINER_NODES: dict[str, set[str]] = {
    "python": {"class_definition"},
    "javascript": {"class_declaration", "class"},
    "typescript": {"class_declaration", "abstract_class_declaration", "class"},
    "tsx": {"class_declaration", "abstract_class_declaration", "class"},
    "go": set(),
    "rust": {"impl_item", "trait_item", "mod_item"},
    "java": {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration"},
}
# `const f = (..) => {..}` / `const f = function () {..}` count as functions in JS/TS.
_JS_FUNCTION_VALUES = {"arrow_function", "function_expression", "function", "generator_function"}

_TEST_DIRS = {"test", "tests", "__tests__", "spec", "specs", "testing", "testdata", "e2e"}
_TEST_FILE_RE = re.compile(
    r"(^test_.*\.py$|.*_test\.py$|^conftest\.py$|.*_test\.go$|.*\.(test|spec)\.[cm]?[jt]sx?$"
    r"|.*Tests?\.java$|.*IT\.java$)"
)
_VENDOR_DIRS = {"vendor", "vendored", "node_modules", "third_party", "third-party", "bower_components",
                "site-packages", ".git"}
_GENERATED_FILE_RE = re.compile(r"(_pb2(_grpc)?\.py$|\.pb\.go$|\.min\.js$|\.generated\.|_generated\.|\.d\.ts$)")
_GENERATED_HEADER_RE = re.compile(r"code generated .*do not edit|@generated|auto-?generated|do not edit", re.IGNORECASE)


class SamplerError(Exception):
    """No eligible function, unreadable commit... one line for the user."""


@dataclass(frozen=True)
class SamplerConfig:
    min_lines: int = 3          # functions shorter than this are too small to build a task on
    max_depth: int = 3          # folder depth of the file (SERA: <= 3)
    max_functions: int = 5000   # cap per repo (SERA: 5000)
    max_file_bytes: int = 1_000_000
    languages: tuple[str, ...] = SUPPORTED


@dataclass(frozen=True)
class FunctionRef:
    file: str
    name: str           # qualified: Class.method, Type.method, function
    start_line: int     # 1-based, inclusive
    end_line: int
    language: str

    @property
    def n_lines(self) -> int:
        return self.end_line - self.start_line + 1

    def to_dict(self) -> dict:
        return asdict(self)


def skip_reason(path: str, max_depth: int = 3) -> str | None:
    """Why a path is not sampled (test / vendored / generated / too deep), or None."""
    p = PurePosixPath(path)
    dirs = [d.lower() for d in p.parts[:-1]]
    if any(d in _VENDOR_DIRS for d in dirs):
        return "vendored"
    if any(d in _TEST_DIRS for d in dirs) or _TEST_FILE_RE.match(p.name):
        return "test"
    if _GENERATED_FILE_RE.search(p.name):
        return "generated"
    if len(dirs) > max_depth:
        return "too deep"
    return None


def is_generated_source(text: str) -> bool:
    return bool(_GENERATED_HEADER_RE.search(text[:1000]))


def _parser(language: str):
    from tree_sitter_language_pack import get_parser

    try:
        return get_parser(language)
    except Exception as exc:  # noqa: BLE001 - a missing grammar must not kill the whole scan
        raise SamplerError(f"no tree-sitter grammar for {language}: {exc}") from None


def _name(node) -> str | None:
    n = node.child_by_field_name("name")
    return n.text.decode("utf-8", "replace") if n is not None else None


def _container_name(node, language: str) -> str | None:
    if language == "rust" and node.type == "impl_item":
        t = node.child_by_field_name("type")
        if t is None:
            return None
        text = t.text.decode("utf-8", "replace")
        return text.split("<", 1)[0]
    return _name(node)


def _go_receiver(node) -> str | None:
    recv = node.child_by_field_name("receiver")
    if recv is None:
        return None
    text = recv.text.decode("utf-8", "replace").strip("() ")
    typ = text.split()[-1] if text else ""
    return typ.lstrip("*").split("[", 1)[0] or None


def functions_in_source(source: bytes, language: str, file: str = "") -> list[FunctionRef]:
    """Every top-level function and method in one file (nested functions are part of their parent)."""
    tree = _parser(language).parse(source)
    fn_types, containers = _FUNCTION_NODES[language], _CONTAINER_NODES[language]
    found: list[FunctionRef] = []

    def add(node, name: str, scope: list[str]) -> None:
        found.append(FunctionRef(file, ".".join([*scope, name]), node.start_point[0] + 1,
                                 node.end_point[0] + 1, language))

    def visit(node, scope: list[str]) -> None:
        for child in node.children:
            t = child.type
            if language == "rust" and t == "mod_item" and _name(child) == "tests":
                continue  # #[cfg(test)] mod tests { ... }
            if t in fn_types:
                name = _name(child)
                if language == "go" and t == "method_declaration":
                    recv = _go_receiver(child)
                    scope_here = [*scope, recv] if recv else scope
                else:
                    scope_here = scope
                if name:
                    # Python decorators belong to the function: start at the decorated_definition.
                    target = node if node.type == "decorated_definition" else child
                    found.append(FunctionRef(file, ".".join([*scope_here, name]), target.start_point[0] + 1,
                                             child.end_point[0] + 1, language))
                continue  # do not descend into function bodies
            if t in containers:
                cname = _container_name(child, language)
                visit(child, [*scope, cname] if cname else scope)
                continue
            if language in ("javascript", "typescript", "tsx") and t == "variable_declarator":
                value = child.child_by_field_name("value")
                name = _name(child)
                if value is not None and value.type in _JS_FUNCTION_VALUES and name:
                    add(child.parent if child.parent is not None else child, name, scope)
                continue
            visit(child, scope)

    visit(tree.root_node, [])
    return found


def eligible_functions(repo_path: str, commit: str = "HEAD",
                       config: SamplerConfig = SamplerConfig()) -> list[FunctionRef]:
    """All eligible functions at `commit`, in a stable order (file, start line)."""
    repo = open_repo(repo_path)
    try:
        tree = repo.commit(commit).tree
    except Exception as exc:  # noqa: BLE001
        raise SamplerError(f"cannot read commit {commit}: {exc}") from None
    out: list[FunctionRef] = []
    for blob in tree.traverse():
        if blob.type != "blob":
            continue
        path = blob.path
        lang = language_of(path)
        if lang not in config.languages or lang not in SUPPORTED:
            continue
        if skip_reason(path, config.max_depth) or blob.size > config.max_file_bytes:
            continue
        data = blob.data_stream.read()
        if b"\0" in data[:8000] or is_generated_source(data[:1000].decode("utf-8", "replace")):
            continue
        for fn in functions_in_source(data, lang, path):
            if fn.n_lines >= config.min_lines:
                out.append(fn)
    out.sort(key=lambda f: (f.file, f.start_line, f.name))
    if len(out) > config.max_functions:
        # Seeded by the commit so the cap is reproducible, then back to a stable order.
        keep = random.Random(f"cap:{commit}").sample(range(len(out)), config.max_functions)
        out = [out[i] for i in sorted(keep)]
    return out


def sample_functions(candidates: list[FunctionRef], n: int, seed: int) -> list[FunctionRef]:
    """n functions, seeded: distinct while they last, then cycling through a fresh shuffle."""
    if not candidates:
        raise SamplerError("no eligible function to sample")
    rng = random.Random(seed)
    picked: list[FunctionRef] = []
    while len(picked) < n:
        order = list(candidates)
        rng.shuffle(order)
        picked.extend(order[: n - len(picked)])
    return picked


def sample_repo_functions(repo_path: str, n: int, seed: int, commit: str = "HEAD",
                          config: SamplerConfig = SamplerConfig()) -> list[FunctionRef]:
    """Same seed on the same commit -> the same functions."""
    candidates = eligible_functions(repo_path, commit, config)
    if not candidates:
        raise SamplerError(
            f"no eligible function in {repo_path} at {commit[:12]} (languages: {', '.join(config.languages)}; "
            f"tests, vendored and generated files and functions under {config.min_lines} lines are skipped)"
        )
    return sample_functions(candidates, n, seed)
