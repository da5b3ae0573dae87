"""Act: a full reconcile reads what the plan needs, decides (`plan`, pure) and carries the plan out
through `kube/`. Called under the resource's lock."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from . import contract
from .api.resource import Provider
from .claims import derive_claims
from .credentials import CredentialsCheck, derive_credentials_check
from .kube.api import Refused
from .observations import Observation, PodFacts, derive_pod_facts, fetch_login_pods, fetch_observation
from .plan import Plan, derive_children, derive_plan, derive_refusal
from .render import names
from .render.keys import derive_keys_digest, render_keys_secret, to_keys_values
from .sleep import derive_idle_default, derive_sleep
from .state import State, Tracked
from .status import Facts
from .wire import truncate

log = logging.getLogger(__name__)
#: Plan and act again at most this often in one reconcile (a pod in the way that is gone when read,
#: a new resource's pod that has to be read after all, the login's pods listed before a create).
_ROUNDS = 4


def _new_secret_value(key: str) -> str:
    return f"sk-{secrets.token_hex(24)}" if key == contract.MASTER_KEY_KEY else secrets.token_urlsafe(32)


async def together(*steps: Awaitable[Any]) -> list[Any]:
    """Run `steps` concurrently, let every one finish, then raise the first error if any did."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


@dataclass(frozen=True)
class Outcome:
    facts: Facts
    #: What the API server refused to write, if it did: not converged, tried again with backoff.
    refused: Refused | None = None
    #: A gradual replacement waits for its turn: not converged, tried again with backoff.
    deferred: bool = False

    @property
    def converged(self) -> bool:
        return self.refused is None and not self.deferred


class _Deferred(Exception):
    """A gradual replacement that is not this pod's turn yet: the pod is kept meanwhile."""

    def __init__(self, facts: PodFacts) -> None:
        super().__init__("deferred")
        self.facts = facts


def _refusal(provider: Provider, refused: Refused) -> PodFacts:
    detail = f"{refused.kind} {refused.name} (HTTP {refused.code}: {truncate(refused.message)})."
    return PodFacts("refused", names.pod_name(provider.name), detail=detail)


def _observed(results: list[Any]) -> tuple[Observation, Refused | None]:
    """The observation among concurrent steps' results, and the first refusal; other errors raise."""
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, Refused):
            raise result
    refused = next((r for r in results if isinstance(r, Refused)), None)
    seen: Observation = results[0]
    return seen, refused


async def converge(state: State, tracked: Tracked) -> Outcome:
    """Observe, plan, act: the facts for the status."""
    if tracked.never_reconciled:  # the operator's default sleepAfterSeconds, for new resources only
        default = derive_idle_default(tracked.provider, state.config.default_sleep_after_seconds)
        if default is not None:
            patched = await state.kube.patch_resource(tracked.provider.namespace, tracked.provider.name, default)
            tracked.provider = Provider.from_body(patched)
            log.info(
                "Gave %s/%s the default spec.idle",
                tracked.provider.namespace,
                tracked.provider.name,
                extra={"sleep_after_seconds": tracked.provider.spec.idle.sleep_after_seconds},
            )
    provider = tracked.provider
    sleep = derive_sleep(provider, tracked.status, tracked.wake_requested_at, tracked.activity, datetime.now(UTC))
    # The login may not be used (images or a Service the operator does not allow): nothing of ours is
    # applied, the login is not read, and our pod (if any) goes.
    barred = derive_refusal(provider, state.config)
    new = tracked.never_reconciled
    observe = fetch_observation(
        state.kube,
        provider,
        read_secret=barred is None,
        read_pod=barred is not None or not new,
        # A new resource most likely creates its pod: the login's other pods are listed meanwhile.
        list_login_pods=barred is None and new,
    )
    refused: Refused | None = None
    if barred is not None:
        seen = await observe
    else:
        # Independent requests go together: a creation waits for three round trips, not nine.
        children = derive_children(provider, state.config)
        applies = (state.kube.apply_manifest(m) for m in children)
        results = await asyncio.gather(observe, _apply_keys(state, tracked), *applies, return_exceptions=True)
        seen, refused = _observed(results)
    check: CredentialsCheck
    if barred is not None:
        check = barred
    else:
        secret = seen.secret
        # A Secret not labelled for this resource is not looked into: no pod, no Role, not even its keys'
        # names in the status.
        claim = derive_claims(
            provider, secret.labels if secret is not None else None, (seen.master_key_read, seen.master_key_labels)
        )
        if claim is not None:
            check, seen = claim, replace(seen, secret=None)
        else:
            data, annotations = (secret.data, secret.annotations) if secret is not None else (None, None)
            check = derive_credentials_check(
                provider.spec.credentials, provider.namespace, data, annotations, resource=provider.name
            )
    if refused is None:
        try:
            pod = await _act(state, tracked, check, seen, asleep=sleep == "asleep")
            return Outcome(Facts(credentials=check, pod=pod, sleep=sleep))
        except Refused as error:
            refused = error
        except _Deferred as wait:
            return Outcome(Facts(credentials=check, pod=wait.facts, sleep=sleep), deferred=True)
    log.warning(
        "The API server refused a child of %s/%s",
        provider.namespace,
        provider.name,
        extra={"kind": refused.kind, "child": refused.name, "code": refused.code},
    )
    return Outcome(Facts(credentials=check, pod=_refusal(provider, refused), sleep=sleep), refused)


async def _act(state: State, tracked: Tracked, check: CredentialsCheck, seen: Observation, *, asleep: bool) -> PodFacts:
    provider = tracked.provider
    name = names.pod_name(provider.name)
    applied = False
    for _ in range(_ROUNDS):
        plan = derive_plan(
            provider,
            check,
            seen,
            state.config.pod_defaults,
            tracked.keys_digest,
            fingerprint_key=tracked.fingerprint_key,
            api_server=state.config.api_server,
            asleep=asleep,
        )
        tracked.pod_plan = plan.pod_plan
        if not applied:  # the pod's ServiceAccount must exist before the pod
            await together(*(state.kube.apply_manifest(m) for m in plan.children))
            applied = True
        if plan.action == "read":
            seen = replace(seen, pod=await state.kube.fetch_pod(provider.namespace, name), pod_read=True)
            continue
        if plan.action == "list":
            seen = replace(seen, login_pods=await fetch_login_pods(state.kube, provider))
            continue
        if plan.action == "create":
            assert plan.pod is not None
            created = await state.kube.create_manifest(plan.pod)
            if created is not None:
                log.info("Created pod %s/%s", provider.namespace, name)
                # As its events will show it (phase Pending), so that they change nothing.
                return derive_pod_facts(created)
            seen = replace(seen, pod=await state.kube.fetch_pod(provider.namespace, name), pod_read=True)
            continue
        if plan.action == "delete":
            if plan.gradual and not state.take_rollout(asyncio.get_running_loop().time()):
                raise _Deferred(plan.facts)
            await _delete_pod(state, provider.namespace, name, plan)
            if plan.gradual:
                return PodFacts("replacing", name)
        return plan.facts
    # A pod in the way that keeps coming and going: the next event tries again.
    return PodFacts("replacing", name)


async def _delete_pod(state: State, namespace: str, name: str, plan: Plan) -> None:
    await state.kube.delete_pod(namespace, name)
    log.info("Deleted pod %s/%s", namespace, name, extra={"reason": plan.why, **plan.log_fields})


async def _apply_keys(state: State, tracked: Tracked) -> None:
    """The generated keys: created once, never regenerated (clients hold them); a key that a changed spec
    wants and the Secret lacks is added to the values already there."""
    if tracked.keys_complete:
        return
    provider = tracked.provider
    fresh = render_keys_secret(provider, {}, _new_secret_value) if tracked.never_reconciled else None
    if fresh is not None and await state.kube.create_manifest(fresh) is not None:
        values = to_keys_values(fresh)
    else:
        existing = await state.kube.fetch_secret_data(provider.namespace, names.keys_secret_name(provider.name)) or {}
        written = render_keys_secret(provider, existing, _new_secret_value)
        if written is not None:
            await state.kube.apply_manifest(written, remember=False)
        values = existing if written is None else to_keys_values(written)
    tracked.keys_digest = derive_keys_digest(values)
    tracked.fingerprint_key = values[names.FINGERPRINT_KEY_KEY]
    tracked.keys_complete = True
