"""Evaluation: run the agent on held-out (or given) tasks over several seeds, score by recall of the
reference patch and by the repo's tests, report mean ± std per model."""

from engine.eval.heldout import HeldoutSplit, mark_heldout
from engine.eval.runner import EvalConfig, EvalReport, ModelSpec, arun_eval, run_eval
from engine.eval.tasks import EvalTask, EvalTaskError, heldout_tasks, load_task_file

__all__ = ["EvalConfig", "EvalReport", "EvalTask", "EvalTaskError", "HeldoutSplit", "ModelSpec", "arun_eval",
           "heldout_tasks", "load_task_file", "mark_heldout", "run_eval"]
