"""Loss masking: exactly the assistant turns with train != false carry labels, token by token."""

from __future__ import annotations

import json

import pytest

from engine.train.chat import CHATML_HERMES_TEMPLATE, resolve_format
from engine.train.data import DatasetError, parse_rows
from engine.train.masking import IGNORE, AllMaskedError, assistant_spans, collate, prepare
from engine.train.tiny import QWEN_STYLE_TEMPLATE
from tests.train.conftest import call, chat


def examples(*rows):
    return parse_rows([json.dumps(r) for r in rows])


def labelled_runs(enc, tokenizer) -> list[str]:
    """Decoded text of each maximal run of unmasked labels."""
    runs, cur = [], []
    for tok, lab in zip(enc.input_ids, enc.labels):
        if lab != IGNORE:
            assert lab == tok  # labels are the input ids themselves (the model shifts them)
            cur.append(tok)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return [tokenizer.decode(r) for r in runs]


def masked_text(enc, tokenizer) -> str:
    return tokenizer.decode([t for t, lab in zip(enc.input_ids, enc.labels) if lab == IGNORE])


def test_multi_turn_tool_chat_labels_only_trainable_assistant_turns(tokenizer):
    row = chat(2, train=[True, False, True])  # the second tool-calling turn is a failed action: context only
    fmt = resolve_format(tokenizer)
    assert fmt.source == "model" and fmt.warning is None
    enc = prepare(tokenizer, examples(row), fmt, max_len=4096).examples[0]

    assert labelled_runs(enc, tokenizer) == [
        ('<think>\nthink 0 look at it\n</think>\n\nStep 0: look at it.\n<tool_call>\n'
         '{"name": "bash", "arguments": {"command": "grep -n parse f0.py"}}\n</tool_call><|im_end|>\n'),
        '<think>\ndone\n</think>\n\n<tool_call>\n{"name": "submit", "arguments": {}}\n</tool_call><|im_end|>\n',
    ]
    masked = masked_text(enc, tokenizer)
    for prompt_text in ("You are a coding agent.", "Fix the parse bug number 0.", "f0.py:3: def parse",
                        "f1.py:3: def parse", '"name": "bash", "description"',  # system, user, tools, schemas
                        "think 1 look at it", "grep -n parse f1.py",  # the train=false assistant turn
                        "<|im_start|>assistant\n"):  # generation prompts are not the model's to learn
        assert prompt_text in masked
    # token-level: every token is either masked or its own id, and the unmasked ones are exactly 2 spans
    assert all(lab in (IGNORE, tok) for tok, lab in zip(enc.input_ids, enc.labels))
    assert len(enc.spans) == 3 and [s.train for s in enc.spans] == [True, False, True]
    a, b = enc.token_spans[1]
    assert set(enc.labels[a:b]) == {IGNORE}


def test_rendering_matches_the_model_template_exactly(tokenizer):
    row = chat(1)
    enc = prepare(tokenizer, examples(row), resolve_format(tokenizer), 4096).examples[0]
    from engine.train.chat import to_template_messages

    expected = tokenizer.apply_chat_template(to_template_messages(row["messages"]), tools=row["tools"], tokenize=False)
    assert tokenizer.decode(enc.input_ids) == expected


def test_template_without_tools_falls_back_to_chatml_hermes_with_warning(tokenizer):
    plain = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
             "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    original = tokenizer.chat_template
    try:
        tokenizer.chat_template = plain
        fmt = resolve_format(tokenizer)
        assert fmt.source == "chatml-hermes" and fmt.template == CHATML_HERMES_TEMPLATE
        assert "cannot render tools" in fmt.warning
        tokenizer.chat_template = None
        assert "has no chat template" in resolve_format(tokenizer).warning
    finally:
        tokenizer.chat_template = original
    enc = prepare(tokenizer, examples(chat(1)), fmt, 4096).examples[0]
    runs = labelled_runs(enc, tokenizer)
    assert runs[0].startswith("<think>\nthink 0 look at it\n</think>\n\nStep 0: look at it.\n<tool_call>\n")
    assert '"name": "bash"' in masked_text(enc, tokenizer)  # tools listed in the (masked) system turn


def test_template_that_renders_the_last_turn_differently_is_aligned(tokenizer):
    # Qwen3 adds an empty think block to a *last* assistant turn without reasoning: prefixes differ.
    quirky = QWEN_STYLE_TEMPLATE.replace(
        "{%- if message.reasoning_content %}",
        "{%- if loop.last and not message.reasoning_content %}{{- '<think>\\n\\n</think>\\n\\n' }}"
        "{%- elif message.reasoning_content %}")
    assert quirky != QWEN_STYLE_TEMPLATE
    row = chat(2)
    for m in row["messages"]:
        m.pop("reasoning_content", None)
    original = tokenizer.chat_template
    try:
        tokenizer.chat_template = quirky
        fmt = resolve_format(tokenizer)
        enc = prepare(tokenizer, examples(row), fmt, 4096).examples[0]
        # the exact method (prefix renders) needs to align the last-turn form; both agree
        (ex,) = examples(row)
        assert assistant_spans(tokenizer, ex, fmt, "exact") == assistant_spans(tokenizer, ex, fmt, "fast")
    finally:
        tokenizer.chat_template = original
    runs = labelled_runs(enc, tokenizer)
    assert runs[0] == ('Step 0: look at it.\n<tool_call>\n{"name": "bash", "arguments": '
                       '{"command": "grep -n parse f0.py"}}\n</tool_call><|im_end|>\n')
    assert runs[-1] == '<think>\n\n</think>\n\n<tool_call>\n{"name": "submit", "arguments": {}}\n</tool_call><|im_end|>\n'


def test_template_that_wants_argument_objects_gets_them_once_encoded(tokenizer):
    tojson = QWEN_STYLE_TEMPLATE.replace(
        "{%- if tool_call.function.arguments is string %}{{- tool_call.function.arguments }}"
        "{%- else %}{{- tool_call.function.arguments | tojson }}{%- endif %}",
        "{{- tool_call.function.arguments | tojson }}")
    assert tojson != QWEN_STYLE_TEMPLATE
    original = tokenizer.chat_template
    try:
        tokenizer.chat_template = tojson
        fmt = resolve_format(tokenizer)
        enc = prepare(tokenizer, examples(chat(1)), fmt, 4096).examples[0]
    finally:
        tokenizer.chat_template = original
    assert fmt.arguments == "dict"
    assert '"arguments": {"command": "grep -n parse f0.py"}' in labelled_runs(enc, tokenizer)[0]


def test_all_masked_dataset_is_an_error_naming_the_examples(tokenizer):
    rows = [chat(1, train=False, ident=i) for i in range(2)]
    with pytest.raises(AllMaskedError) as err:
        prepare(tokenizer, examples(*rows), resolve_format(tokenizer), 4096)
    msg = str(err.value)
    assert "line 1 (rollout_id 100)" in msg and "line 2 (rollout_id 101)" in msg and "masked" in msg


def test_fully_masked_examples_are_skipped_and_named_when_others_train(tokenizer):
    prepared = prepare(tokenizer, examples(chat(1), chat(1, train=False, ident=7)), resolve_format(tokenizer), 4096)
    assert len(prepared.examples) == 1 and prepared.all_masked == ["line 2 (rollout_id 107)"]
    assert any("line 2 (rollout_id 107)" in w for w in prepared.warnings)


def test_collate_refuses_a_batch_with_nothing_to_learn(tokenizer):
    fmt = resolve_format(tokenizer)
    enc = prepare(tokenizer, examples(chat(1)), fmt, 4096).examples[0]
    enc.labels = [IGNORE] * len(enc.labels)
    with pytest.raises(AllMaskedError, match="line 1"):
        collate([enc], tokenizer.pad_token_id)


def test_long_examples_are_cut_back_to_the_last_complete_assistant_turn(tokenizer):
    fmt = resolve_format(tokenizer)
    short = prepare(tokenizer, examples(chat(1)), fmt, 4096).examples[0]
    long_row = chat(4, ident=1)
    full = prepare(tokenizer, examples(long_row), fmt, 4096).examples[0]
    # a limit between the end of the 2nd and the 3rd assistant turn
    limit = (full.token_spans[1][1] + full.token_spans[2][1]) // 2
    prepared = prepare(tokenizer, examples(long_row, chat(1, ident=2)), fmt, limit)
    assert prepared.truncated == ["line 1 (rollout_id 101)"] and prepared.stats()["truncated"] == 1
    cut = prepared.examples[0]
    assert cut.truncated and len(cut.input_ids) == full.token_spans[1][1] <= limit
    assert cut.input_ids == full.input_ids[: len(cut.input_ids)]
    assert tokenizer.decode(cut.input_ids).endswith("</tool_call><|im_end|>\n")
    assert len(labelled_runs(cut, tokenizer)) == 2
    # not even the first assistant turn fits: dropped and counted
    tiny_limit = short.token_spans[0][1] - 5
    with pytest.raises(Exception, match="no example fits"):
        prepare(tokenizer, examples(chat(1)), fmt, tiny_limit)
    mixed = prepare(tokenizer, examples(long_row, chat(0, ident=3)), fmt, full.token_spans[0][1] - 1)
    assert mixed.dropped_too_long == ["line 1 (rollout_id 101)"] and len(mixed.examples) == 1


def test_bad_rows_name_their_line():
    with pytest.raises(DatasetError, match="line 2: not valid JSON"):
        parse_rows([json.dumps(chat(1)), "{oops"])
    with pytest.raises(DatasetError, match="line 1 message 0: role"):
        parse_rows([json.dumps({"messages": [{"role": "robot", "content": "x"}]})])
    with pytest.raises(DatasetError, match="non-empty"):
        parse_rows([json.dumps({"messages": []})])


def parallel_calls_row() -> dict:
    row = chat(1)
    row["messages"][2]["tool_calls"].append(call("c9", "bash", {"command": "ls"}))
    row["messages"].insert(4, {"role": "tool", "tool_call_id": "c9", "name": "bash", "content": "a.py", "train": False})
    return row


TOJSON = QWEN_STYLE_TEMPLATE.replace(
    "{%- if tool_call.function.arguments is string %}{{- tool_call.function.arguments }}"
    "{%- else %}{{- tool_call.function.arguments | tojson }}{%- endif %}", "{{- tool_call.function.arguments | tojson }}")


QUIRKY = QWEN_STYLE_TEMPLATE.replace(  # Qwen3: an empty think block on a last turn without reasoning
    "{%- if message.reasoning_content %}",
    "{%- if loop.last and not message.reasoning_content %}{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- elif message.reasoning_content %}")


def without_reasoning(row: dict) -> dict:
    for m in row["messages"][2::4]:
        m.pop("reasoning_content", None)
    return row


@pytest.mark.parametrize("template", [QWEN_STYLE_TEMPLATE, CHATML_HERMES_TEMPLATE, TOJSON, QUIRKY],
                         ids=["qwen-style", "chatml-hermes", "tojson-args", "last-turn-quirk"])
def test_fast_locator_agrees_with_exact_prefix_renders(tokenizer, template):
    original = tokenizer.chat_template
    try:
        tokenizer.chat_template = template
        fmt = resolve_format(tokenizer, "model")
        rows = [chat(3, train=[True, False, True, True]), parallel_calls_row(), chat(0), without_reasoning(chat(3))]
        for ex in examples(*rows):
            fast = assistant_spans(tokenizer, ex, fmt, "fast")
            assert fast == assistant_spans(tokenizer, ex, fmt, "exact")
            assert len(fast[1]) == sum(m["role"] == "assistant" for m in ex.messages)
    finally:
        tokenizer.chat_template = original


def test_parallel_tool_calls_are_one_labelled_turn(tokenizer):
    enc = prepare(tokenizer, examples(parallel_calls_row()), resolve_format(tokenizer), 4096).examples[0]
    first = labelled_runs(enc, tokenizer)[0]
    assert first.count("<tool_call>") == 2 and '{"command": "ls"}' in first and first.endswith("<|im_end|>\n")
    assert "a.py" in masked_text(enc, tokenizer)
