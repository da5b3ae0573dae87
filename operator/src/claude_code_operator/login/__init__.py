"""`claude-code-operator login`: this machine's Claude Code login -> a validated login Secret (and a
ClaudeCodeProvider) in the cluster, through the user's kubeconfig.

Data flow: `sources` (reads the files, the Keychain, stdin or the environment) -> `validate` (pure: a
login the pod can use, or a refusal that says what to do) -> `manifests` (pure: the Secret and the
resource, masked for `--dry-run`) -> `apply` (server-side apply as field manager `claude-code-login`).
"""
