"""The LiteLLM sidecar's config (a ConfigMap): each exposed model routed to the runtime on loopback."""

from __future__ import annotations

from typing import Any

import yaml

from .. import contract
from ..api.resource import Provider
from . import names

CONFIG_KEY = "config.yaml"
RUNTIME_URL_FROM_ENV = f"os.environ/{contract.ENV_RUNTIME_URL}"
CUSTOM_HANDLER = "claude_code_provider.llm.handler.claude_code_llm"
# LiteLLM checks OpenAI parameters against a generic list for custom providers, which lacks these;
# claude-code/ honours them (the provider's llm/reasoning.py; tests/unit/test_operator_render.py holds the two).
REASONING_PARAMS = ("reasoning_effort", "thinking")
# Only the master key opens the endpoint; any other is a 401 that says the key is wrong.
CUSTOM_AUTH = "claude_code_provider.llm.proxy_auth.authenticate"


def render_litellm_config(provider: Provider) -> dict[str, Any]:
    return {
        "model_list": [
            {
                "model_name": exposed,
                "litellm_params": {
                    "model": f"claude-code/{claude}",
                    "api_base": f"os.environ/{contract.ENV_RUNTIME_URL}",
                    "allowed_openai_params": list(REASONING_PARAMS),
                },
            }
            for exposed, claude in sorted(provider.spec.models.items())
        ],
        "litellm_settings": {"custom_provider_map": [{"provider": "claude-code", "custom_handler": CUSTOM_HANDLER}]},
        # Claude Code retries what is worth retrying; a usage limit is not worth a retry before it resets.
        # Without disable_cooldowns one 401 or 429 puts the only deployment on ice: the owner would get
        # "No deployments available" after fixing the login, or after the limit reset.
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY", "custom_auth": CUSTOM_AUTH},
    }


def render_config_map(provider: Provider) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": names.metadata(provider, names.config_map_name(provider.name)),
        "data": {CONFIG_KEY: yaml.safe_dump(render_litellm_config(provider), sort_keys=False)},
    }
