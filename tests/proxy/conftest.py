"""Fixtures: a scripted OpenAI upstream and the proxy in front of it, on loopback."""

from __future__ import annotations

import pytest

from engine.loopback import ScriptedOpenAIServer
from engine.proxy.app import ProxyConfig, create_app
from engine.serve.threaded import ServerThread


@pytest.fixture
def proxy_for():
    """proxy_for(script_or_responder, **config) -> (proxy base url, upstream server)."""
    started: list = []

    def _start(script, **kw):
        upstream = ScriptedOpenAIServer(script, model="student").start()
        app = create_app(ProxyConfig(upstream=upstream.base_url, model="student", **kw))
        srv = ServerThread(app).start()
        started.append((srv, upstream))
        return srv.url, upstream

    yield _start
    for srv, upstream in started:
        srv.stop()
        upstream.stop()
