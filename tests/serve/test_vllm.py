"""The `vllm serve` command line for LoRA and reasoning models, and the wait-until-healthy path
(a fake `vllm` on PATH serves the scripted OpenAI server)."""

from __future__ import annotations

import json
import os
import sys

import openai
import pytest
from typer.testing import CliRunner

from engine.serve.config import ServeConfig
from engine.serve.threaded import free_port
from engine.serve.vllm import VLLMError, VLLMServer, build_command
from sera_tui.cli import app


def adapter_dir(tmp_path, r=32):
    d = tmp_path / "student-lora"
    d.mkdir()
    (d / "adapter_config.json").write_text(json.dumps({"r": r, "lora_alpha": 128, "peft_type": "LORA"}))
    return d


def test_lora_command(tmp_path):
    d = adapter_dir(tmp_path)
    cmd = build_command(ServeConfig(model="Qwen/Qwen3-8B", backend="vllm", adapter=str(d), port=9000,
                                    max_model_len=32768))
    assert cmd[:3] == ["vllm", "serve", "Qwen/Qwen3-8B"]
    joined = " ".join(cmd)
    assert f"--enable-lora --lora-modules student-lora={d}" in joined
    assert "--max-lora-rank 32" in joined  # vLLM's default (16) would refuse SERA's r=32 adapter
    assert "--served-model-name student-lora-base" in joined
    assert "--enable-auto-tool-choice --tool-call-parser hermes" in joined
    assert "--max-model-len 32768" in joined and "--port 9000" in joined and "--host 127.0.0.1" in joined
    assert "--reasoning-parser" not in joined


def test_reasoning_model_command():
    cmd = build_command(ServeConfig(model="/models/glm", backend="vllm", served_name="teacher",
                                    reasoning_parser="glm45", tool_call_parser="glm45"))
    joined = " ".join(cmd)
    assert "--reasoning-parser glm45" in joined and "--tool-call-parser glm45" in joined
    assert "--served-model-name teacher" in joined and "--enable-lora" not in joined


def test_cli_print_command(tmp_path):
    d = adapter_dir(tmp_path, r=8)
    r = CliRunner().invoke(app, ["serve", "--model", "Qwen/Qwen3-32B", "--backend", "vllm", "--adapter", str(d),
                                 "--served-name", "mine", "--reasoning-parser", "qwen3", "--print-command"])
    assert r.exit_code == 0, r.output
    assert "--lora-modules mine=" in r.stdout and "--reasoning-parser qwen3" in r.stdout
    assert "--max-lora-rank" not in r.stdout
    r = CliRunner().invoke(app, ["serve", "--model", "m", "--backend", "tgi"])
    assert r.exit_code == 2 and "--backend must be" in r.stderr


FAKE_VLLM = """\
#!{python}
import sys, time
sys.path.insert(0, {root!r})
args = sys.argv[1:]
with open({log!r}, "w") as f:
    f.write(" ".join(args))
if "--fail" in args:
    print("CUDA out of memory", flush=True)
    sys.exit(1)
from engine.loopback import ScriptedOpenAIServer, text_reply
port = int(args[args.index("--port") + 1])
name = args[args.index("--served-model-name") + 1]
time.sleep(1.0)  # a real vLLM takes minutes: the caller must wait
srv = ScriptedOpenAIServer(lambda req: text_reply("hi from fake vllm"), model=name, port=port).start()
print("INFO: Application startup complete.", flush=True)
while True:
    time.sleep(1)
"""


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "vllm-args.txt"
    exe = bindir / "vllm"
    exe.write_text(FAKE_VLLM.format(python=sys.executable, root=os.getcwd(), log=str(log)))
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("SERA_VLLM_BIN", raising=False)
    return log


def test_launch_waits_until_healthy_then_serves(fake_vllm):
    cfg = ServeConfig(model="/models/student", backend="vllm", port=free_port(), served_name="student")
    server = VLLMServer(cfg).start(timeout_s=30, echo=False)
    try:
        client = openai.OpenAI(base_url=cfg.base_url, api_key="none", max_retries=0)
        assert [m.id for m in client.models.list().data] == ["student"]
        r = client.chat.completions.create(model="student", messages=[{"role": "user", "content": "x"}])
        assert r.choices[0].message.content == "hi from fake vllm"
    finally:
        server.stop()
    assert server.proc.poll() is not None
    assert "--enable-auto-tool-choice" in fake_vllm.read_text()


def test_launch_failure_reports_the_output(fake_vllm):
    cfg = ServeConfig(model="/models/student", backend="vllm", port=free_port(), extra_args=["--fail"])
    with pytest.raises(VLLMError, match="(?s)exited with code 1.*CUDA out of memory"):
        VLLMServer(cfg).start(timeout_s=30, echo=False)


def test_missing_vllm_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SERA_VLLM_BIN", raising=False)
    with pytest.raises(VLLMError, match="vllm is not installed"):
        VLLMServer(ServeConfig(model="m", backend="vllm"))
