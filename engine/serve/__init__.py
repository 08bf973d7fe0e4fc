"""Serving a model behind an OpenAI-compatible endpoint: transformers on CPU/GPU, or `vllm serve`."""
