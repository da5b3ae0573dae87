"""Kubernetes operator turning ClaudeCodeProvider resources into probed provider pods."""
