"""The LiteLLM proxy's ``custom_auth`` hook: the master key, and nothing else, opens the endpoint.

Without it LiteLLM answers a key that is not the master key with ``400 No connected db.`` (it would look
the key up in a database of virtual keys this proxy does not have), which sends people looking for a
database. Register it in the proxy config::

    general_settings:
      master_key: os.environ/LITELLM_MASTER_KEY
      custom_auth: claude_code_provider.llm.proxy_auth.authenticate

A wrong or missing key is then a 401 (``openai.AuthenticationError``) that says so.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request
from litellm.constants import LITELLM_PROXY_MASTER_KEY_ALIAS
from litellm.proxy._types import LitellmUserRoles, UserAPIKeyAuth

_WHERE = "the proxy's master key (LITELLM_MASTER_KEY; in a provider pod, the master key Secret the operator made)"


def derive_refusal(given: str | None, master: str | None) -> str | None:
    """Pure: why ``given`` does not open the endpoint whose master key is ``master``, or None when it does.

    The comparison takes the same time wherever the two keys differ (``hmac.compare_digest``)."""
    if not master:
        return "This proxy has no master key configured (set LITELLM_MASTER_KEY), so it serves nobody."
    if not given:
        return f"No API key was sent: send {_WHERE} as the bearer token."
    if not hmac.compare_digest(given.encode(), master.encode()):
        return f"The API key is wrong: this endpoint takes only {_WHERE}."
    return None


async def authenticate(request: Request, api_key: str) -> UserAPIKeyAuth:
    """LiteLLM's ``custom_auth`` signature; ``api_key`` is the key LiteLLM read from the request's headers."""
    from litellm.proxy import proxy_server  # the proxy's running settings; this hook only runs inside it

    refusal = derive_refusal(api_key, proxy_server.master_key)
    if refusal is not None:
        raise HTTPException(status_code=401, detail=refusal)
    # What LiteLLM makes of the master key itself: the proxy's admin, under an alias rather than the key.
    return UserAPIKeyAuth(
        api_key=LITELLM_PROXY_MASTER_KEY_ALIAS,
        user_role=LitellmUserRoles.PROXY_ADMIN,
        user_id=proxy_server.litellm_proxy_admin_name,
    )
