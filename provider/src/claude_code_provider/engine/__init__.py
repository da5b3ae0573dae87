"""Run one chat request through the Claude Code CLI (via the Agent SDK) and stream its events."""
