"""Desired state: a resource -> validated spec -> pure renderers -> apply; then its status.

Called by the kopf handlers for the resource itself, its pod and its login Secret, always under the
resource's lock. At most one pod per login: a pod that must change is deleted, and its replacement
is created by the reconcile that the pod's DELETED event triggers, never while the old one exists.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import Any

import kopf
from lightkube import ApiError

from .api.resource import Provider
from .api.status import ClaudeCodeProviderStatus
from .credentials import CredentialsCheck, derive_credentials_check
from .login_facts import LoginFacts, derive_pod_has_login
from .login_pods import derive_login_pod_in_the_way
from .metrics import RECONCILE_SECONDS, STATUS_WRITES
from .observations import PodFacts, PodState
from .render import names
from .render.access import render_write_back_access
from .render.images import derive_image_refusal
from .render.keys import render_keys_secret, to_keys_values
from .render.litellm import render_config_map
from .render.network import derive_service_refusal, render_network_policy, render_service
from .render.pod import pod_hash, render_pod
from .state import Key, LoginUsers, State, login_holder
from .status import Facts, derive_status, derive_transitions

log = logging.getLogger(__name__)


def _new_secret_value(key: str) -> str:
    return f"sk-{secrets.token_hex(24)}" if key == names.MASTER_KEY_KEY else secrets.token_urlsafe(32)


async def reconcile(state: State, provider: Provider, users: LoginUsers, trigger: str) -> None:
    """The full pass: login, children, pod; then the status. For the resource's own changes, its login
    Secret's, and a pod that went away or stopped."""
    key: Key = (provider.namespace, provider.name)
    started = time.monotonic()
    async with state.lock(key), state.reconciles:
        credentials, pod = await _converge(state, provider, users)
        await _record_pod(state, provider, Facts(credentials=credentials, pod=pod))
    RECONCILE_SECONDS.labels(trigger).observe(time.monotonic() - started)


async def observe_pod(state: State, namespace: str, name: str, pod: Mapping[str, Any]) -> bool:
    """A pod event that needs no full reconcile: the pod of a resource that runs one, as the event shows
    it (starting, ready, unready, going). No request but a status patch when its conditions change.
    False: reconcile fully (a pod that stopped or is not this resource's, or nothing known yet)."""
    key: Key = (namespace, name)
    provider = state.providers.get(key)
    if provider is None:
        return True  # gone, or not seen yet: the resource's own events reconcile it
    plan = state.pod_plans.get(key)
    deleting = bool(pod["metadata"].get("deletionTimestamp"))
    if plan == "remove" and deleting:
        return True  # on its way out as decided; the status already says why
    if plan != "run" or not _owned(pod, provider):
        return False
    if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
        return False
    facts = PodFacts("replacing", pod["metadata"]["name"]) if deleting else derive_pod_facts(pod)
    async with state.lock(key):
        if state.pod_plans.get(key) != "run":
            return False  # a reconcile changed its mind while this waited
        await _record_pod(state, provider, Facts(pod=facts))
    return True


async def _record_pod(state: State, provider: Provider, facts: Facts) -> None:
    """Point the prober at a pod that answers (a new one now, not an interval later); then the status."""
    key: Key = (provider.namespace, provider.name)
    pod = facts.pod
    if pod is not None and pod.probeable and pod.ip is not None:
        if state.pod_ips.get(key) != pod.ip:
            state.pod_ips[key] = pod.ip
            state.probes.set(key, asyncio.get_running_loop().time())
    elif pod is not None:
        state.pod_ips.pop(key, None)
        state.probes.discard(key)
    await write_status(state, provider, facts)


async def _converge(state: State, provider: Provider, users: LoginUsers) -> tuple[CredentialsCheck, PodFacts]:
    key: Key = (provider.namespace, provider.name)
    secret_name = provider.spec.credentials.secret_name
    refusal = _refusal(state, provider, users)
    if refusal is not None:
        existing = await state.kube.fetch_pod(provider.namespace, names.pod_name(provider.name))
        return refusal, await _remove_pod(state, provider, existing, "withheld")
    new = _never_reconciled(state, key)
    # Independent requests go together: a creation waits for three round trips, not nine.
    secret, existing, fingerprint_key = await _together(
        state.kube.fetch_login_secret(provider.namespace, secret_name),
        _nothing() if new else state.kube.fetch_pod(provider.namespace, names.pod_name(provider.name)),
        _apply_children(state, provider, new),
    )
    data, annotations = (secret.data, secret.annotations) if secret is not None else (None, None)
    check = derive_credentials_check(provider.spec.credentials, provider.namespace, data, annotations)
    login = check.login
    if login is not None and login.write_back:  # the pod's ServiceAccount must exist before the pod
        await _together(
            *(state.kube.apply_manifest(m) for m in render_write_back_access(provider, state.config.api_server))
        )
    if provider.spec.suspend or not check.valid or data is None or login is None:
        if new:  # not read above, and one may be there (an operator stopped before its status write)
            existing = await state.kube.fetch_pod(provider.namespace, names.pod_name(provider.name))
        return check, await _remove_pod(state, provider, existing, "suspended" if provider.spec.suspend else "withheld")
    state.pod_plans[key] = "run"
    if existing is None:  # any other pod of this login, terminating too, must be gone before ours starts
        own = names.pod_name(provider.name)
        labelled = await state.kube.fetch_pods(
            provider.namespace, names.LOGIN_SECRET_LABEL, names.login_label(secret_name)
        )
        in_the_way = derive_login_pod_in_the_way(labelled, own)
        if in_the_way is not None:
            return check, PodFacts(
                "pending", own, detail=f"Waiting for pod {in_the_way}, which runs this login, to go."
            )
    return check, await _ensure_pod(state, provider, data, login, existing, fingerprint_key)


def _refusal(state: State, provider: Provider, users: LoginUsers) -> CredentialsCheck | None:
    """Why the login must not be used at all, before it is read: images outside the operator's allow-list
    (they would be handed the login), a Service that would publish it beyond the cluster unguarded, or a
    login another resource holds."""
    images = derive_image_refusal(provider, state.config.allowed_images)
    if images is not None:
        return CredentialsCheck(valid=False, reason="ImageNotAllowed", message=images)
    service = derive_service_refusal(provider, state.config.external_service_types)
    if service is not None:
        return CredentialsCheck(valid=False, reason="ServiceTypeNotAllowed", message=service)
    secret_name = provider.spec.credentials.secret_name
    holder = login_holder(users, provider.namespace, secret_name)
    if holder is None or holder == provider.name:
        return None
    return CredentialsCheck(
        valid=False,
        reason="LoginInUse",
        message=(
            f"Secret {provider.namespace}/{secret_name} is the login of ClaudeCodeProvider {holder}; two pods "
            "refreshing one login invalidate it. Give this resource its own login Secret "
            f"(spec.credentials.secretName) or delete {holder}."
        ),
    )


def _never_reconciled(state: State, key: Key) -> bool:
    """No status written yet: a new resource, whose pod and keys most likely do not exist. They are created
    without reading first; one that is there after all (an operator stopped before its first status
    write) makes the creation fail, and is read then."""
    return (state.status.get(key) or ClaudeCodeProviderStatus()).observed_generation is None


async def _nothing() -> None:
    return None


async def _together(*steps: Awaitable[Any]) -> list[Any]:
    """Run `steps` concurrently, let every one finish, then raise the first error if any did."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def _apply_keys(state: State, provider: Provider, new: bool) -> bytes:
    """The generated keys: created once, never regenerated (clients hold them); a key that a changed spec
    wants and the Secret lacks is added to the values already there. Returns the login fingerprint key."""
    key = (provider.namespace, provider.name)
    known = state.fingerprint_keys.get(key)
    if known is not None:
        return known
    fresh = render_keys_secret(provider, {}, _new_secret_value) if new else None
    if fresh is not None and await state.kube.create_manifest(fresh) is not None:
        values = to_keys_values(fresh)
    else:
        values = await state.kube.fetch_secret_data(provider.namespace, names.keys_secret_name(provider.name)) or {}
        manifest = render_keys_secret(provider, values, _new_secret_value)
        if manifest is not None:
            await state.kube.apply_manifest(manifest, remember=False)
            values = to_keys_values(manifest)
    state.fingerprint_keys[key] = values[names.FINGERPRINT_KEY_KEY]
    return state.fingerprint_keys[key]


async def _apply_children(state: State, provider: Provider, new: bool) -> bytes:
    """Every child but the pod, concurrently (none needs another to exist first); returns the login
    fingerprint key."""
    config = state.config
    applies: list[Awaitable[Any]] = [_apply_keys(state, provider, new)]
    for manifest in (
        render_config_map(provider),
        render_service(provider),
        render_network_policy(provider, config.operator_namespace, config.operator_labels),
    ):
        applies.append(state.kube.apply_manifest(manifest))
    fingerprint_key, *_ = await _together(*applies)
    return bytes(fingerprint_key)


async def _remove_pod(state: State, provider: Provider, existing: Mapping[str, Any] | None, why: PodState) -> PodFacts:
    state.pod_plans[(provider.namespace, provider.name)] = "remove"
    name = names.pod_name(provider.name)
    if existing is not None and _owned(existing, provider) and not existing["metadata"].get("deletionTimestamp"):
        await state.kube.delete_pod(provider.namespace, name)
        log.info("Deleted pod %s/%s", provider.namespace, name, extra={"reason": why})
    return PodFacts(why)


def _event_target(provider: Provider) -> Any:
    return {
        "apiVersion": provider.owner_reference()["apiVersion"],
        "kind": provider.owner_reference()["kind"],
        "metadata": {"name": provider.name, "namespace": provider.namespace, "uid": provider.uid},
    }


def _owned(pod: Mapping[str, Any], provider: Provider) -> bool:
    return any(ref.get("uid") == provider.uid for ref in pod["metadata"].get("ownerReferences") or [])


async def _ensure_pod(
    state: State,
    provider: Provider,
    data: Mapping[str, bytes],
    login: LoginFacts,
    existing: Mapping[str, Any] | None,
    fingerprint_key: bytes,
) -> PodFacts:
    desired = render_pod(provider, data, fingerprint_key, login)
    name = desired["metadata"]["name"]
    for _ in range(2):  # a pod in the way that is gone when read: create again, once
        if existing is not None:
            break
        created = await state.kube.create_manifest(desired)
        if created is not None:
            log.info("Created pod %s/%s", provider.namespace, name)
            # As its events will show it (phase Pending), so that they change nothing.
            return derive_pod_facts(created)
        existing = await state.kube.fetch_pod(provider.namespace, name)
    if existing is None:  # a pod in the way that keeps coming and going: the next event tries again
        return PodFacts("replacing", name)
    meta = existing["metadata"]
    if not _owned(existing, provider):
        return PodFacts("failed", name, detail=f"a pod named {name} exists that this resource does not own")
    if meta.get("deletionTimestamp"):
        return PodFacts("replacing", name)
    status = existing.get("status") or {}
    if status.get("phase") in ("Failed", "Succeeded"):
        detail = status.get("reason") or status.get("message") or status.get("phase")
        await state.kube.delete_pod(provider.namespace, name)
        log.info("Deleted stopped pod %s/%s", provider.namespace, name, extra={"pod_phase": status.get("phase")})
        return PodFacts("failed", name, detail=str(detail))
    if pod_hash(existing) != pod_hash(desired) or not derive_pod_has_login(existing, login, fingerprint_key):
        await state.kube.delete_pod(provider.namespace, name)
        log.info("Replacing pod %s/%s: its spec or login changed", provider.namespace, name)
        return PodFacts("replacing", name)
    return derive_pod_facts(existing)


def derive_pod_facts(pod: Mapping[str, Any]) -> PodFacts:
    """Pure: what a live pod of the resource shows (ready, running but not ready, or still starting)."""
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ip = status.get("podIP")
    if status.get("phase") != "Running" or not ip:
        return PodFacts("pending", name, detail=str(status.get("phase") or ""))
    ready = conditions.get("Ready") or {}
    if ready.get("status") == "True":
        return PodFacts("ready", name, ip=ip)
    return PodFacts("unready", name, ip=ip, detail=str(ready.get("message") or "its readiness probe fails"))


async def write_status(state: State, provider: Provider, facts: Facts) -> None:
    """Derive the status; patch it and post Events only when it changed."""
    key = (provider.namespace, provider.name)
    previous = state.status.get(key) or ClaudeCodeProviderStatus()
    current = derive_status(previous, provider, facts, datetime.now(UTC))
    if current == previous:
        return
    try:
        await state.kube.patch_status(provider.namespace, provider.name, current.model_dump(mode="json"))
    except ApiError as error:
        if error.status.code == 404:
            return
        raise
    STATUS_WRITES.inc()
    state.status[key] = current
    target = kopf.Body(_event_target(provider))
    for transition in derive_transitions(previous, current, provider.spec.owner):
        kopf.event(target, type=transition.type, reason=transition.reason, message=transition.message)
    log.info(
        "Status of %s/%s is %s",
        provider.namespace,
        provider.name,
        current.phase,
        extra={"conditions": {c.type: f"{c.status}/{c.reason}" for c in current.conditions}},
    )
