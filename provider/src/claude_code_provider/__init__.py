"""Serve one Claude Code subscription login as an OpenAI-compatible model through LiteLLM."""
