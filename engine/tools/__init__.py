"""The agent's tools: one schema definition (schema.py) shared by agent, exporter, trainer and proxy.

editor.py (str_replace_editor), bash.py, clip.py (head+tail clipping), paths.py (path confinement),
dispatch.py (validation + execution of one tool call).
"""
