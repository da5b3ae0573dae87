"""The in-pod runtime: holds the login, runs the CLI, serves completions on loopback and health on the pod network."""
