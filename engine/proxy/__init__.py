"""An Anthropic-Messages proxy in front of any OpenAI-compatible chat endpoint (for Claude Code & co)."""
