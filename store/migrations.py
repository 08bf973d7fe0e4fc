"""Versioned schema migrations for the workspace database.

The schema version of a database is the number of migrations applied to it; version N is
``MIGRATIONS[N-1]``. Append new migrations at the end, never edit a released one.
"""

from __future__ import annotations

# Ids come from sequences so that rows can be written one at a time as they happen
# (messages are persisted the moment they exist).
_V1 = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE SEQUENCE IF NOT EXISTS seq_repos START 1;
CREATE TABLE repos (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_repos'),
    name VARCHAR NOT NULL UNIQUE,
    path VARCHAR NOT NULL,
    head_commit VARCHAR,
    test_cmd VARCHAR,
    languages JSON,               -- {"python": 12, "go": 3}: files per language at add time
    added_at TIMESTAMP DEFAULT current_timestamp
);

CREATE SEQUENCE IF NOT EXISTS seq_runs START 1;
CREATE TABLE runs (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_runs'),
    repo_id INTEGER,
    kind VARCHAR NOT NULL,        -- generate | demo | rollout | import | eval
    status VARCHAR NOT NULL,      -- running | finished | failed | cancelled
    config JSON,                  -- everything needed to --resume
    base_commit VARCHAR,
    pid INTEGER,
    started_at TIMESTAMP DEFAULT current_timestamp,
    finished_at TIMESTAMP,
    error VARCHAR
);

CREATE SEQUENCE IF NOT EXISTS seq_tasks START 1;
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_tasks'),
    run_id INTEGER NOT NULL,
    repo_id INTEGER,
    seq INTEGER NOT NULL,         -- position within the run (resume key)
    file VARCHAR,
    function VARCHAR,             -- qualified name
    start_line INTEGER,
    end_line INTEGER,
    language VARCHAR,
    category VARCHAR,
    instruction VARCHAR,
    seed BIGINT,
    base_commit VARCHAR,
    state VARCHAR NOT NULL DEFAULT 'pending',
        -- pending | running | kept | below_threshold | judged_invalid | empty_patch
        -- | rollout_failed:<exit reason> | cancelled
    reason VARCHAR,
    heldout BOOLEAN DEFAULT false,
    created_at TIMESTAMP DEFAULT current_timestamp,
    finished_at TIMESTAMP
);

CREATE SEQUENCE IF NOT EXISTS seq_rollouts START 1;
CREATE TABLE rollouts (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_rollouts'),
    run_id INTEGER,
    task_id INTEGER,
    stage VARCHAR NOT NULL,       -- T1 | T2 | eval | single | imported
    source VARCHAR DEFAULT 'sera',-- sera | swe-agent | mini-swe-agent | openhands
    model VARCHAR,
    task_text VARCHAR,
    status VARCHAR NOT NULL DEFAULT 'running',  -- running | finished
    exit_reason VARCHAR,          -- submitted | step_limit | context_exceeded | model_error | sandbox_error | cancelled
    patch VARCHAR,
    patch_lines INTEGER,          -- changed (+/-) lines in patch
    steps INTEGER DEFAULT 0,
    prompt_tokens BIGINT DEFAULT 0,
    completion_tokens BIGINT DEFAULT 0,
    cost DOUBLE DEFAULT 0,
    worktree VARCHAR,
    error VARCHAR,
    started_at TIMESTAMP DEFAULT current_timestamp,
    finished_at TIMESTAMP
);

CREATE TABLE messages (
    rollout_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    role VARCHAR NOT NULL,        -- system | user | assistant | tool
    content VARCHAR,
    reasoning VARCHAR,
    tool_calls JSON,              -- [{"id","name","arguments"}] arguments kept as the raw string
    tool_call_id VARCHAR,
    name VARCHAR,
    tokens INTEGER,               -- token count of this message (estimate if no tokenizer)
    prompt_tokens INTEGER,        -- usage reported by the model for the call producing it
    completion_tokens INTEGER,
    model_latency_ms DOUBLE,
    tool_time_ms DOUBLE,
    tool_error BOOLEAN DEFAULT false,
    created_at TIMESTAMP DEFAULT current_timestamp
);
CREATE INDEX idx_messages_rollout ON messages (rollout_id);

CREATE SEQUENCE IF NOT EXISTS seq_prs START 1;
CREATE TABLE prs (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_prs'),
    task_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    judge_verdict BOOLEAN,
    judge_text VARCHAR,
    pr_text VARCHAR,
    demo_source VARCHAR,
    accepted BOOLEAN DEFAULT false,
    error VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE scores (
    task_id INTEGER NOT NULL,
    mode VARCHAR NOT NULL,        -- sera | per-file
    recall DOUBLE,                -- NULL when undefined (target has no changed lines)
    matched INTEGER,
    total INTEGER,
    matched_lines JSON,           -- indices of matched target lines
    created_at TIMESTAMP DEFAULT current_timestamp
);

CREATE SEQUENCE IF NOT EXISTS seq_reviews START 1;
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_reviews'),
    task_id INTEGER NOT NULL,
    verdict VARCHAR NOT NULL,     -- accept | reject | skip
    note VARCHAR,
    reviewer VARCHAR,
    created_at TIMESTAMP DEFAULT current_timestamp
);

CREATE SEQUENCE IF NOT EXISTS seq_datasets START 1;
CREATE TABLE datasets (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_datasets'),
    name VARCHAR NOT NULL UNIQUE,
    path VARCHAR,
    format VARCHAR,               -- openai | hermes
    filters JSON,
    tokenizer VARCHAR,
    max_len INTEGER,
    n_examples INTEGER,
    created_at TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE dataset_examples (
    dataset_id INTEGER NOT NULL,
    rollout_id INTEGER NOT NULL,
    position INTEGER,
    truncation_ratio DOUBLE,
    n_tokens INTEGER
);

CREATE SEQUENCE IF NOT EXISTS seq_train_runs START 1;
CREATE TABLE train_runs (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_train_runs'),
    dataset_id INTEGER,
    dataset_path VARCHAR,
    base_model VARCHAR,
    method VARCHAR,               -- lora | qlora | full
    out_dir VARCHAR,
    config JSON,
    status VARCHAR NOT NULL DEFAULT 'running',  -- running | finished | failed | cancelled
    pid INTEGER,
    final_loss DOUBLE,
    error VARCHAR,
    started_at TIMESTAMP DEFAULT current_timestamp,
    finished_at TIMESTAMP
);
CREATE TABLE train_metrics (
    train_run_id INTEGER NOT NULL,
    step INTEGER,
    epoch DOUBLE,
    loss DOUBLE,
    lr DOUBLE,
    tokens_per_s DOUBLE,
    gpu_mem_mb DOUBLE,
    eta_s DOUBLE,
    logged_at TIMESTAMP DEFAULT current_timestamp
);

CREATE SEQUENCE IF NOT EXISTS seq_eval_runs START 1;
CREATE TABLE eval_runs (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_eval_runs'),
    repo_id INTEGER,
    model VARCHAR,
    base_url VARCHAR,
    tasks_spec VARCHAR,           -- heldout | path of a task file
    seeds INTEGER,
    status VARCHAR NOT NULL DEFAULT 'running',
    config JSON,
    mean DOUBLE,
    std DOUBLE,
    cost DOUBLE DEFAULT 0,
    error VARCHAR,
    started_at TIMESTAMP DEFAULT current_timestamp,
    finished_at TIMESTAMP
);
CREATE TABLE eval_results (
    eval_run_id INTEGER NOT NULL,
    task_id INTEGER,
    task_ref VARCHAR,             -- id of a task from a task file
    seed INTEGER,
    rollout_id INTEGER,
    recall DOUBLE,
    tests_passed BOOLEAN,
    exit_reason VARCHAR,
    cost DOUBLE DEFAULT 0
);
"""

# Curation (issue 5): per-rollout message aggregates, computed once per finished rollout so that
# filters over millions of messages stay fast (store/curation.py keeps it fresh), and where an
# imported rollout came from.
_V2_CURATION = """
CREATE TABLE rollout_stats (
    rollout_id INTEGER PRIMARY KEY,
    n_messages INTEGER,
    n_assistant INTEGER,
    n_tool INTEGER,
    tool_tokens BIGINT,           -- role='tool' tokens (chars/4 where tokens is NULL)
    total_tokens BIGINT,          -- all messages, same estimate
    n_tool_errors INTEGER,
    finished_at TIMESTAMP         -- rollouts.finished_at when computed (recomputed if it changes)
);
CREATE TABLE rollout_sources (
    rollout_id INTEGER PRIMARY KEY,
    source_ref VARCHAR,           -- instance id in the foreign format
    source_path VARCHAR           -- file it was imported from
);
"""

# Evaluation (issue 8): each time a repo's held-out split is drawn, how it was drawn (tasks.heldout
# holds the membership; held-out tasks are never exported for training).
_V3_EVAL = """
CREATE SEQUENCE IF NOT EXISTS seq_heldout_splits START 1;
CREATE TABLE heldout_splits (
    id INTEGER PRIMARY KEY DEFAULT nextval('seq_heldout_splits'),
    repo_id INTEGER NOT NULL,
    fraction DOUBLE,
    seed BIGINT,
    n_candidates INTEGER,         -- kept pairs the split was drawn from
    n_heldout INTEGER,
    created_at TIMESTAMP DEFAULT current_timestamp
);
"""

MIGRATIONS: list[str] = [_V1, _V2_CURATION, _V3_EVAL]
