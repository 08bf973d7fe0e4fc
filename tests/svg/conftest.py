"""Fixtures for the SVG tests: a small multi-function repo and the scripted teacher over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.loopback import ScriptedOpenAIServer
from tests.svg.teacher import Scenario, ScriptedTeacher

CALC = '''"""Arithmetic helpers."""


def keep_me(x):
    total = x + 1
    return total


def drift_me(x):
    total = x * 2
    result = total
    return result


def reject_me(x):
    total = x - 3
    return total


def fail_me(x):
    total = x ** 2
    return total


def noop_me(x):
    total = x % 7
    return total


def picky_me(x):
    total = x // 2
    return total
'''

SCENARIOS = {
    "keep_me": Scenario("calc.py", "    total = x + 1", "    total = x + 1 if x is not None else 1"),
    "drift_me": Scenario("calc.py", "    total = x * 2", "    total = x * 2 if x else 0",
                         t2_old="    result = total", t2_new="    result = int(total)"),
    "reject_me": Scenario("calc.py", "    total = x - 3", "    total = x - 3.0", judge_yes=False),
    "fail_me": Scenario("calc.py", "    total = x ** 2", "    total = x * x", never_submit=True),
    "noop_me": Scenario("calc.py", "    total = x % 7", "", no_edit=True),
    "picky_me": Scenario("calc.py", "    total = x // 2", "    total = int(x // 2)", bad_first_pr=True),
}


@pytest.fixture
def calc_repo(make_repo) -> Path:
    return make_repo({"calc.py": CALC, "README.md": "calc\n"}, name="calc")


@pytest.fixture
def teacher_server():
    teacher = ScriptedTeacher(dict(SCENARIOS))
    with ScriptedOpenAIServer(teacher, model="scripted-teacher") as server:
        server.teacher = teacher
        yield server
