"""Names and labels of everything the operator makes for a ClaudeCodeProvider, in one place."""

from __future__ import annotations

import hashlib

from .. import contract
from ..api.resource import Provider

#: Children carry the label login Secrets opt in with, naming their resource (the contract's).
PROVIDER_LABEL = contract.PROVIDER_LABEL
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "claude-code-operator"
APP_NAME = "claude-code-provider"
SPEC_HASH_ANNOTATION = "claudecode.dev/spec-hash"
#: On the pod: a digest of the generated keys it started with (a rotation replaces it).
KEYS_DIGEST_ANNOTATION = "claudecode.dev/keys-digest"
#: On the pod: a hash of what it was rendered from (the spec, the login Secret's keys): a pod whose render
#: changed while this did not is the operator's own change, rolled out gradually.
INPUT_HASH_ANNOTATION = "claudecode.dev/input-hash"
#: On the activator's per-route NetworkPolicies (in the operator's namespace: no owner reference can
#: name the provider): the provider's namespace, beside PROVIDER_LABEL naming it.
PROVIDER_NAMESPACE_LABEL = "claudecode.dev/provider-namespace"
#: On provider pods: the name of the login Secret they run (login_pods), as a label value.
LOGIN_SECRET_LABEL = "claudecode.dev/login-secret"

CLAUDE_CONTAINER = "claude"
LITELLM_CONTAINER = "litellm"
#: A key of the generated Secret, the operator's alone (the runtime never reads it): the key of the
#: login's hashes on the pod (login_facts), never on the pod itself.
FINGERPRINT_KEY_KEY = "login-fingerprint-key"

LOGIN_DIR = "/var/run/claude-login"
CONFIG_DIR = "/var/lib/claude"
HOME_DIR = "/home/claude"
LITELLM_CONFIG_DIR = "/etc/litellm"
#: The write-back token of the `claude` container, where in-cluster clients look for it.
API_ACCESS_VOLUME = "api-access"
API_ACCESS_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
API_TOKEN_SECONDS = 3607  # a kubelet's own choice for automounted tokens (it refreshes them at 80 %)


def login_secret_name(name: str) -> str:
    """The login Secret of the ClaudeCodeProvider `name` that `claude-code-operator login` writes (unless
    its --secret-name says otherwise)."""
    return f"{name}-login"


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


def activator_slice_name(name: str) -> str:
    """The EndpointSlice that sends a sleeping provider's Service to the activator."""
    return f"{service_name(name)}-activator"


def activator_ingress_policy_name(name: str) -> str:
    """The NetworkPolicy letting the activator's pods reach a provider pod."""
    return f"{name}-claude-code-activator"


def activator_route_policy_name(port: int) -> str:
    """The NetworkPolicy, in the operator's namespace, of one route port of the activator."""
    return f"claude-code-activator-route-{port}"


def selector_labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": name, PROVIDER_LABEL: name}


def labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP_NAME, MANAGED_BY_LABEL: MANAGED_BY, **selector_labels(name)}


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
