"""One login, many CLI processes: the access token expires while warm spares wait and requests arrive.

Refresh tokens are single-use. Every CLI process of the runtime reads the same ``.credentials.json``; if
two refreshed at once, one would spend the token and the other would get ``invalid_grant`` and log the
pod out. The pinned CLI takes a store lock (``.oauth_refresh.lock`` in the config directory) and re-reads
the file once it holds it; this holds it to that, against the fake OAuth endpoint reached through
``HTTPS_PROXY`` as the real one is, which refuses a spent refresh token as the real one does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from claude_code_devkit.fakes.anthropic_api import FakeAnthropic, TextReply
from claude_code_devkit.fakes.oauth_server import FakeOAuthServer
from claude_code_devkit.stack import Runtime
from claude_code_devkit.waiting import wait_until

WARM, IN_FLIGHT = 4, 4
#: The CLI refreshes a token that expires within five minutes (its own buffer).
REFRESH_BUFFER_S = 300
#: Time to start the runtime and its warm spares before the token enters that buffer.
LEAD_S = 25


def ask(runtime: Runtime, prompt: str) -> httpx.Response:
    return runtime.complete({"model": "sonnet", "messages": [{"role": "user", "content": prompt}]})


def test_warm_and_in_flight_processes_refresh_an_expiring_login_exactly_once(
    fake: FakeAnthropic, start: Callable[..., Runtime], tmp_path: Path
) -> None:
    with FakeOAuthServer(tmp_path) as oauth:
        login = oauth.issue(expires_in=REFRESH_BUFFER_S + LEAD_S)
        enters_buffer = login.expires_at_ms / 1000 - REFRESH_BUFFER_S
        runtime = start(
            login={".credentials.json": json.dumps(login.credentials())},
            env={
                "HTTPS_PROXY": oauth.proxy_url,
                "https_proxy": oauth.proxy_url,
                "NODE_EXTRA_CA_CERTS": str(oauth.ca_file),
                "CLAUDE_CODE_POOL_WARM_MODELS": "sonnet",
                "CLAUDE_CODE_POOL_SIZE": str(WARM),
                "CLAUDE_RUNTIME_MAX_IN_FLIGHT": str(WARM + IN_FLIGHT),
            },
        )
        wait_until(
            lambda: runtime.metric("claude_code_pool_ready_processes") == WARM,
            timeout=enters_buffer - time.time(),
            what=f"{WARM} warm processes before the token needs a refresh",
            ignore=(Exception,),
            interval=0.05,
        )
        assert oauth.refreshes == [], "nothing refreshed a token that was not due yet"
        fake.default_reply = TextReply("fresh", first_delay_s=0.3)
        wait_until(
            lambda: time.time() >= enters_buffer + 1,
            timeout=LEAD_S + 5,
            what="the token to fall due",
            ignore=(Exception,),
            interval=0.05,
        )

        # Every warm spare and as many requests again, each in a CLI process of its own, at once.
        with ThreadPoolExecutor(WARM + IN_FLIGHT) as pool:
            answers = list(pool.map(lambda i: ask(runtime, f"question {i}"), range(WARM + IN_FLIGHT)))
        assert [a.status_code for a in answers] == [200] * 8, [a.text[-300:] for a in answers]
        assert runtime.metric("claude_code_request_paths_total", path="spare") == WARM
        assert runtime.metric("claude_code_request_paths_total", path="cold") == IN_FLIGHT

        assert [(r.refresh_token, r.accepted) for r in oauth.refreshes] == [(login.refresh_token, True)]
        stored = json.loads((runtime.config_dir / ".credentials.json").read_text())["claudeAiOauth"]
        assert oauth.usable(stored["refreshToken"]), "the file holds the live refresh token"
        assert stored["expiresAt"] > (time.time() + 7 * 3600) * 1000
        bearers = {r.bearer_token for r in fake.messages_requests}
        assert bearers == {stored["accessToken"]}, "every request went out with the one refreshed token"

        # The processes kept and the spares started afterwards go on with it, and nothing refreshes again.
        with ThreadPoolExecutor(WARM + IN_FLIGHT) as pool:
            again = list(pool.map(lambda i: ask(runtime, f"again {i}"), range(WARM + IN_FLIGHT)))
        assert [a.status_code for a in again] == [200] * 8, [a.text[-300:] for a in again]
        assert len(oauth.refreshes) == 1, oauth.refreshes
        assert {r.bearer_token for r in fake.messages_requests} == {stored["accessToken"]}
        ready = runtime.get("/readyz")
        assert (ready.status_code, ready.json()["ready"]) == (200, True)
