"""The activator: the listener of sleeping providers (`claude-code-operator activator`). It holds a request
for a sleeping provider, asks the operator to wake it, and passes the request through once its pod is Ready."""
