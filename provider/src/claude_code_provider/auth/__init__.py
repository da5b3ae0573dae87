"""The login: copying it in at start-up, refusing API keys, and telling whether it works."""
