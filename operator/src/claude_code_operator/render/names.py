"""Names and labels of everything the operator makes for a ClaudeCodeProvider, in one place."""

from __future__ import annotations

import hashlib

from ..api.resource import Provider

MANAGED_BY = "claude-code-operator"
APP_NAME = "claude-code-provider"
PROVIDER_LABEL = "claudecode.dev/provider"
SPEC_HASH_ANNOTATION = "claudecode.dev/spec-hash"
#: On provider pods: the name of the login Secret they run (login_pods), as a label value.
LOGIN_SECRET_LABEL = "claudecode.dev/login-secret"

CLAUDE_CONTAINER = "claude"
LITELLM_CONTAINER = "litellm"
HEALTH_PORT = 8080
HTTP_PORT = 4000
RUNTIME_API_URL = "http://127.0.0.1:8081"
RUNTIME_TOKEN_KEY = "runtime-token"
MASTER_KEY_KEY = "master-key"
#: The key of the login's hashes on the pod (login_facts): never on the pod itself.
FINGERPRINT_KEY_KEY = "login-fingerprint-key"

LOGIN_DIR = "/var/run/claude-login"
CONFIG_DIR = "/var/lib/claude"
HOME_DIR = "/home/claude"
LITELLM_CONFIG_DIR = "/etc/litellm"
#: The write-back token of the `claude` container, where in-cluster clients look for it.
API_ACCESS_VOLUME = "api-access"
API_ACCESS_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
API_TOKEN_SECONDS = 3607  # a kubelet's own choice for automounted tokens (it refreshes them at 80 %)
#: The runtime reads the login under these file names, whatever the Secret's keys are called.
CREDENTIALS_FILE = ".credentials.json"
CLAUDE_JSON_FILE = ".claude.json"
OAUTH_TOKEN_FILE = "oauth-token"


def pod_name(name: str) -> str:
    return f"{name}-claude-code"


def service_name(name: str) -> str:
    return name


def config_map_name(name: str) -> str:
    return f"{name}-litellm"


def keys_secret_name(name: str) -> str:
    """The generated Secret: the runtime token, the login fingerprint key and, unless the spec names one,
    the master key."""
    return f"{name}-claude-code-keys"


def service_account_name(name: str) -> str:
    """The pod's ServiceAccount, Role and RoleBinding when it writes refreshed logins back."""
    return f"{name}-claude-code"


def network_policy_name(name: str) -> str:
    return f"{name}-claude-code"


def write_back_policy_name(name: str) -> str:
    """The NetworkPolicy letting a pod that writes its login back reach the API server."""
    return f"{name}-claude-code-api"


def selector_labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": name, PROVIDER_LABEL: name}


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/managed-by": MANAGED_BY, **selector_labels(name)}


def login_label(secret_name: str) -> str:
    """A Secret name as a label value: itself up to 63 characters, else a shortened form with a hash of it."""
    if len(secret_name) <= 63:
        return secret_name
    digest = hashlib.sha256(secret_name.encode()).hexdigest()[:16]
    return f"{secret_name[:46].rstrip('.-')}-{digest}"


def endpoint(provider: Provider) -> str:
    return f"http://{service_name(provider.name)}.{provider.namespace}.svc:{provider.spec.service.port}/v1"


def metadata(provider: Provider, name: str) -> dict[str, object]:
    return {
        "name": name,
        "namespace": provider.namespace,
        "labels": labels(provider.name),
        "ownerReferences": [provider.owner_reference()],
    }
