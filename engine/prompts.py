"""System and task prompt templates for rollouts (SWE-agent style, our own wording).

Templates use `{working_dir}` and `{task}` placeholders, filled with plain replacement so task text
containing braces is safe.
"""

from __future__ import annotations

SYSTEM_PROMPT = "You are a helpful assistant that can interact with a computer to solve tasks."

TASK_TEMPLATE = """<uploaded_files>
{working_dir}
</uploaded_files>
I've uploaded a code repository in the directory {working_dir}. Consider the following issue description:

<issue_description>
{task}
</issue_description>

Can you help me implement the necessary changes to the repository so that the requirements specified in the <issue_description> are met?
I've already taken care of all changes to any of the test files described in the <issue_description>. This means you DON'T have to modify the testing logic or any of the tests in any way!
Your task is to make the minimal changes to non-test files in the {working_dir} directory to ensure the <issue_description> is satisfied.
Follow these steps to resolve the issue:
1. As a first step, find and read the code relevant to the <issue_description>.
2. Create a script to reproduce the problem and run it with `python <filename.py>` using the bash tool, to confirm it.
3. Edit the source code of the repository to resolve the issue.
4. Rerun your reproduction script and confirm that the problem is fixed.
5. Think about edge cases and make sure your fix handles them as well.
When you are done, call the `submit` tool.
Your thinking should be thorough, so it's fine if it's very long."""

NUDGE = ("Your last message did not call a tool. Every reply must call exactly the tools you need: "
         "`bash`, `str_replace_editor`, or `submit` when you are done.")


def render_task(task: str, working_dir: str, template: str = TASK_TEMPLATE) -> str:
    return template.replace("{working_dir}", working_dir).replace("{task}", task)
