"""The ClaudeCodeProvider API: pydantic models that are the CRD's source, and its generation."""
