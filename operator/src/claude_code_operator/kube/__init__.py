"""The only code that writes to the API server."""
