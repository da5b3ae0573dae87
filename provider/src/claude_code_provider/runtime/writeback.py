"""Write-back: the login the CLI refreshed (or an in-pod ``claude auth login`` made) goes to the login Secret.

Refresh tokens are single-use, so after a refresh only this pod holds a working login; a restart would
start from the Secret's used one. File events on the config directory (no polling loop) trigger a
write: read the Secret, derive the patch (valid, and only over a login of this pod's lineage: what it
installed or wrote last), patch it with its ``resourceVersion``; on 409 read again and decide again.
A login of another lineage in the Secret (a person replaced it) is never written over ("superseded").
Off unless the operator set ``CLAUDE_LOGIN_SECRET`` (it also gives this pod a ServiceAccount allowed to
get and patch that Secret alone). The client is made per write from ``KubeConfig.from_env()``: in a pod
the in-cluster account, whose projected token rotates; elsewhere ``KUBECONFIG``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Secret
from lightkube.types import PatchType
from pydantic import BaseModel, ConfigDict, Field
from watchfiles import Change, awatch

from ..auth.lineage import Lineage, read_lineage, save_lineage
from ..auth.login import CREDENTIALS_FILE, STATE_FILE
from ..auth.oauth_login import EXPIRES_AT_ANNOTATION, derive_secret_patch, parse_oauth_login
from ..auth.status import WriteBack
from ..metrics import Metrics

log = logging.getLogger(__name__)

WriteOutcome = Literal["written", "invalid", "stale", "superseded", "unchanged", "gave_up", "error"]
#: Re-reads after a 409 before giving up until the next change (another writer keeps winning).
MAX_ATTEMPTS = 5
_VARIABLES = {
    "secret_name": "CLAUDE_LOGIN_SECRET",
    "namespace": "CLAUDE_LOGIN_SECRET_NAMESPACE",
    "credentials_key": "CLAUDE_LOGIN_CREDENTIALS_KEY",
    "claude_json_key": "CLAUDE_LOGIN_CLAUDE_JSON_KEY",
    "pod_uid": "CLAUDE_POD_UID",
    "retry_seconds": "CLAUDE_LOGIN_WRITE_BACK_RETRY_SECONDS",
}


class WriteBackSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    secret_name: str = Field(min_length=1)
    namespace: str = Field(min_length=1)
    credentials_key: str = Field(default=CREDENTIALS_FILE, min_length=1)
    claude_json_key: str = Field(default=STATE_FILE, min_length=1)
    pod_uid: str = Field(min_length=1)
    retry_seconds: float = Field(default=60.0, gt=0, description="after a failed write, when to try again")

    @property
    def writer(self) -> str:
        return f"pod/{self.pod_uid}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WriteBackSettings | None:
        """None (write-back off) unless ``CLAUDE_LOGIN_SECRET`` is set."""
        env = os.environ if environ is None else environ
        if not env.get(_VARIABLES["secret_name"]):
            return None
        return cls.model_validate({field: env[var] for field, var in _VARIABLES.items() if env.get(var)})


def _default_client() -> AsyncClient:
    # The API server is dialled directly: a proxy from the environment is for the CLI's traffic.
    return AsyncClient(config=KubeConfig.from_env(), trust_env=False)


class LoginWriter:
    def __init__(
        self,
        settings: WriteBackSettings,
        config_dir: Path,
        metrics: Metrics,
        client_factory: Callable[[], AsyncClient] = _default_client,
    ) -> None:
        self.settings = settings
        self._config_dir = config_dir
        self._metrics = metrics
        self._client_factory = client_factory
        self._status = WriteBack()
        self._lock = asyncio.Lock()

    def _read(self, name: str) -> bytes | None:
        try:
            return (self._config_dir / name).read_bytes()
        except OSError:
            return None

    async def write_back(self) -> WriteOutcome:
        """Save the config directory's login to the Secret if it is valid and newer; never raises."""
        async with self._lock:
            outcome = await self._write_back()
        now = datetime.now(UTC)
        self._metrics.login_write_backs.labels(outcome=outcome).inc()
        update: dict[str, object] = {"last_result": outcome, "last_at": now}
        if outcome == "written":
            login = parse_oauth_login(await asyncio.to_thread(self._read, CREDENTIALS_FILE))
            update.update(last_written_at=now, written_expires_at=login.expires_at if login else None)
            if login is not None:
                self._metrics.login_expires_at.set(login.expires_at.timestamp())
        self._status = self._status.model_copy(update=update)
        return outcome

    def status(self) -> WriteBack:
        """For /auth/status: the last write-back and how it ended (never a token)."""
        return self._status

    async def _write_back(self) -> WriteOutcome:
        where = {"secret": f"{self.settings.namespace}/{self.settings.secret_name}"}
        try:
            client = await asyncio.to_thread(self._client_factory)
        except Exception as error:  # a missing or broken ServiceAccount/KUBECONFIG: say so, keep serving
            log.error("Login write-back has no API access", extra={**where, "error": type(error).__name__})
            return "error"
        try:
            return await self._patch(client, where)
        except (ApiError, httpx.HTTPError) as error:
            code = error.status.code if isinstance(error, ApiError) else None
            log.error("Login write-back failed", extra={**where, "error": type(error).__name__, "status": code})
            return "error"
        finally:
            await client.close()

    async def _patch(self, client: AsyncClient, where: dict[str, str]) -> WriteOutcome:
        s = self.settings
        for attempt in range(1, MAX_ATTEMPTS + 1):
            # Read per attempt: after a 409 the file may have changed again too.
            credentials = await asyncio.to_thread(self._read, CREDENTIALS_FILE)
            claude_json = await asyncio.to_thread(self._read, STATE_FILE)
            lineage = await asyncio.to_thread(read_lineage, self._config_dir)
            secret = await client.get(Secret, s.secret_name, namespace=s.namespace)
            patch, outcome = derive_secret_patch(
                {k: base64.b64decode(v) for k, v in (secret.data or {}).items()},
                str(secret.metadata.resourceVersion if secret.metadata else ""),
                credentials_key=s.credentials_key,
                claude_json_key=s.claude_json_key,
                credentials=credentials,
                claude_json=claude_json,
                writer=s.writer,
                lineage=lineage,
            )
            if outcome == "superseded":
                log.warning("Login not written back: a newer login arrived in the Secret", extra=where)
            if patch is None:
                if outcome not in ("unchanged", "superseded"):
                    log.info("Login not written back", extra={**where, "outcome": outcome})
                return outcome
            if credentials is not None:  # before the patch: one whose answer is lost is still this pod's
                await asyncio.to_thread(save_lineage, self._config_dir, (lineage or Lineage()).writing(credentials))
            try:
                await client.patch(Secret, s.secret_name, patch, namespace=s.namespace, patch_type=PatchType.MERGE)
            except ApiError as error:
                if error.status.code != 409:
                    raise
                self._metrics.login_write_backs.labels(outcome="conflict").inc()
                log.info("Login write-back conflicted; reading the Secret again", extra={**where, "attempt": attempt})
                continue
            expires = patch["metadata"]["annotations"][EXPIRES_AT_ANNOTATION]
            log.info("Login written back", extra={**where, "expires_at": expires, "attempt": attempt})
            return "written"
        log.warning("Login write-back gave up: other writers kept changing the Secret", extra=where)
        return "gave_up"

    async def run(self) -> None:
        """Write back now (a refresh before a container restart), then after every change of the login
        file; after a failure, again every ``retry_seconds`` until it succeeds. Runs until cancelled."""
        log.info(
            "Login write-back on",
            extra={"secret": f"{self.settings.namespace}/{self.settings.secret_name}", "writer": self.settings.writer},
        )
        self._config_dir.mkdir(parents=True, exist_ok=True)
        failed = await self.write_back() in ("error", "gave_up")
        retry_ms = int(self.settings.retry_seconds * 1000)
        try:
            async for changes in awatch(
                self._config_dir,
                watch_filter=_is_login_file,
                recursive=False,
                debounce=300,
                rust_timeout=retry_ms,
                yield_on_timeout=True,
            ):
                if changes or failed:
                    failed = await self.write_back() in ("error", "gave_up")
        except Exception as error:  # the pod keeps serving; /auth/status and the logs say write-back stopped
            log.exception("Login write-back stopped", extra={"error": type(error).__name__})
            self._status = self._status.model_copy(update={"last_result": "error", "last_at": datetime.now(UTC)})


def _is_login_file(change: Change, path: str) -> bool:
    # The CLI replaces the file atomically (write a temporary file, rename it over): the rename shows
    # as an event on the final name.
    return change != Change.deleted and Path(path).name == CREDENTIALS_FILE
