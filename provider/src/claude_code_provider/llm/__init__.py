"""The LiteLLM adapter: OpenAI chat requests in, Claude Code events out, in-process or via the runtime."""
