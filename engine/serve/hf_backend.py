"""Generation with transformers (CPU or one GPU): chat template + tools in, streamed text out.

One generation runs at a time (a CPU has no batching to gain); requests queue on a lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

# A test or caller may constrain generation (e.g. force a known string): prompt_len -> processors.
LogitsProcessorFactory = Callable[[int], list[Any]]


@dataclass
class GenParams:
    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] | None = None
    seed: int | None = None


@dataclass
class GenStats:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    hit_length: bool = False


def default_chat_template() -> str:
    return resources.files("engine.serve").joinpath("chat_template.jinja").read_text()


def normalize_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI request messages -> what HF chat templates expect (arguments as dicts, no None content)."""
    out = []
    for m in messages:
        m = dict(m)
        content = m.get("content")
        if isinstance(content, list):  # [{"type": "text", "text": …}] parts
            m["content"] = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        elif content is None:
            m["content"] = ""
        if m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                fn = dict(c.get("function") or {})
                args = fn.get("arguments")
                if isinstance(args, str):
                    try:
                        fn["arguments"] = json.loads(args) if args.strip() else {}
                    except json.JSONDecodeError:
                        pass  # keep the raw text: the template prints strings verbatim
                calls.append({**c, "function": fn})
            m["tool_calls"] = calls
        out.append(m)
    return out


class HFBackend:
    def __init__(self, model: Any, tokenizer: Any, *, name: str,
                 logits_processor_factory: LogitsProcessorFactory | None = None,
                 max_model_len: int | None = None):
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.logits_processor_factory = logits_processor_factory
        self.max_model_len = max_model_len
        if not getattr(tokenizer, "chat_template", None):
            tokenizer.chat_template = default_chat_template()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, model_path: str, *, adapter: str | None = None, name: str | None = None, dtype: str = "auto",
             max_model_len: int | None = None) -> HFBackend:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(adapter if adapter and _has_tokenizer(adapter) else model_path)
        torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch_dtype)
        if adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter)
        if torch.cuda.is_available():
            model = model.to("cuda")
        model.eval()
        return cls(model, tokenizer, name=name or model_path, max_model_len=max_model_len)

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        return self.tokenizer.apply_chat_template(normalize_messages(messages), tools=tools or None,
                                                  add_generation_prompt=True, tokenize=False)

    def generate(self, prompt: str, params: GenParams, stats: GenStats) -> Iterator[str]:
        """Yield decoded text pieces as they are generated; fills `stats` when done."""
        import torch
        from transformers import (
            LogitsProcessorList,
            StoppingCriteria,
            StoppingCriteriaList,
            TextIteratorStreamer,
        )

        ids = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        n_prompt = ids["input_ids"].shape[1]
        max_new = params.max_tokens
        if self.max_model_len:
            max_new = min(max_new, self.max_model_len - n_prompt)
            if max_new <= 0:
                raise ValueError(f"the prompt has {n_prompt} tokens; this model's maximum context length is "
                                 f"{self.max_model_len} tokens")
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        stop = params.stop or []
        produced: list[str] = []

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kw: Any) -> bool:
                return bool(stop) and any(s in "".join(produced) for s in stop)

        kwargs: dict[str, Any] = dict(**ids, max_new_tokens=max_new, streamer=streamer,
                                      stopping_criteria=StoppingCriteriaList([_Stop()]),
                                      pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        if params.temperature and params.temperature > 0:
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        else:
            kwargs.update(do_sample=False)
        if self.logits_processor_factory:
            kwargs["logits_processor"] = LogitsProcessorList(self.logits_processor_factory(n_prompt))
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                with torch.inference_mode():
                    result["out"] = self.model.generate(**kwargs)
            except Exception as exc:  # noqa: BLE001 - reported to the request below
                result["error"] = exc
                streamer.on_finalized_text("", stream_end=True)

        with self._lock:
            worker = threading.Thread(target=run, name="hf-generate", daemon=True)
            worker.start()
            for piece in streamer:
                if piece:
                    produced.append(piece)
                    yield piece
            worker.join()
        if "error" in result:
            raise RuntimeError(f"generation failed: {result['error']}")
        out = result["out"]
        stats.prompt_tokens = n_prompt
        stats.completion_tokens = int(out.shape[1] - n_prompt)
        stats.hit_length = stats.completion_tokens >= max_new


def _has_tokenizer(path: str) -> bool:
    from pathlib import Path

    return any((Path(path) / f).exists() for f in ("tokenizer.json", "tokenizer_config.json"))
