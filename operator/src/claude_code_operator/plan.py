"""Pure: what a full reconcile does, decided from what it observed.

`derive_refusal` says why a resource may not use its login at all (decided before anything is read);
`derive_children` names the children that depend on nothing read (applied while the observation is
read); `derive_plan` takes (provider, credentials check, the observation: the pod and the other pods
of the login) and says which further children to apply (the write-back account, needed before the
pod), what to do with the pod (create, keep, delete, wait, or read or list first) and what the status
is to say of it. At most one pod per login, judged from pods: a pod that must change is deleted, and its
replacement is created by the reconcile its DELETED event triggers, never while any other pod of the
login exists (terminating ones included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .api.resource import Provider
from .config import ApiServerEndpoint, OperatorConfig, PodDefaults
from .credentials import CredentialsCheck
from .login_facts import derive_pod_has_login
from .login_pods import derive_login_pod_in_the_way
from .observations import Observation, PodFacts, derive_pod_facts
from .render import names
from .render.access import render_write_back_access
from .render.images import derive_image_refusal
from .render.litellm import render_config_map
from .render.network import derive_service_refusal, render_network_policy, render_service
from .render.pod import pod_hash, render_pod
from .wire import truncate

#: create: the pod `Plan.pod`; keep: the pod there stays; delete: the pod there goes; wait: nothing to do
#: until an event (a pod going, another pod of the login going); read: the pod was not read and must be;
#: list: the login's pods were not listed and must be (before a create).
PodAction = Literal["create", "keep", "delete", "wait", "read", "list"]
#: What the reconcile decided about the pod: run it, or keep it away (suspend, no usable login, asleep).
PodPlan = Literal["run", "remove"]
#: Why the pod is kept away.
_Removal = Literal["suspended", "withheld", "asleep"]


@dataclass(frozen=True)
class Plan:
    pod_plan: PodPlan
    action: PodAction
    #: What the status says of the pod when the action is done (for create: until the created pod is read).
    facts: PodFacts
    #: Children to apply before the pod action (the write-back ServiceAccount, Role and RoleBinding).
    children: tuple[dict[str, Any], ...] = ()
    #: The pod to create (action create).
    pod: dict[str, Any] | None = None
    #: Why the pod is deleted, for the log (action delete).
    why: str = ""
    #: A delete that only a new operator's rendering asks for (same spec, same login): rolled out
    #: gradually, a pod at a time across all resources, rather than all pods at once.
    gradual: bool = False
    #: Log fields of the decision.
    log_fields: Mapping[str, str] = field(default_factory=dict)


def derive_refusal(provider: Provider, config: OperatorConfig) -> CredentialsCheck | None:
    """Why the login must not be used at all, before it is read: images outside the operator's allow-list
    (they would be handed the login), or a Service that would publish it beyond the cluster unguarded.
    None: nothing bars it (whose the login is, its label says: `claims`, once it is read)."""
    images = derive_image_refusal(provider, config.allowed_images)
    if images is not None:
        return CredentialsCheck(valid=False, reason="ImageNotAllowed", message=images)
    service = derive_service_refusal(provider, config.external_service_types)
    if service is not None:
        return CredentialsCheck(valid=False, reason="ServiceTypeNotAllowed", message=service)
    return None


def derive_children(provider: Provider, config: OperatorConfig) -> tuple[dict[str, Any], ...]:
    """The children every resource with a usable claim on its login has, whatever the login holds."""
    return (
        render_config_map(provider),
        render_service(provider),
        render_network_policy(provider, config.operator_namespace, config.operator_labels),
    )


def owned(pod: Mapping[str, Any], provider: Provider) -> bool:
    return any(ref.get("uid") == provider.uid for ref in pod["metadata"].get("ownerReferences") or [])


def derive_plan(
    provider: Provider,
    check: CredentialsCheck,
    seen: Observation,
    defaults: PodDefaults,
    keys_digest: str | None = None,
    *,
    fingerprint_key: bytes | None,
    api_server: Sequence[ApiServerEndpoint] = (),
    asleep: bool = False,
) -> Plan:
    """`keys_digest`: of the generated keys as this process last wrote or read them (None: not known);
    `fingerprint_key`: the key of the login's hashes on the pod, among them (None: not known, as for a
    login that is another's: no pod); `api_server`: where a write-back pod may reach the API server;
    `asleep`: the provider sleeps (`sleep.derive_sleep`), so its pod goes as a suspended one's does."""
    login = check.login
    write_back = login is not None and login.write_back
    children = tuple(render_write_back_access(provider, api_server)) if write_back else ()
    data = seen.secret.data if seen.secret is not None else None
    if provider.spec.suspend or not check.valid or data is None or login is None or fingerprint_key is None:
        why: _Removal = "suspended" if provider.spec.suspend else "withheld"
        return _plan_removal(provider, seen, why, children)
    if asleep:
        return _plan_removal(provider, seen, "asleep", children)
    name = names.pod_name(provider.name)
    desired = render_pod(provider, data, fingerprint_key, login, defaults, keys_digest)
    existing = seen.pod
    if existing is None:  # absent, or not read: created without reading first, once no other pod has the login
        if seen.login_pods is None:
            return Plan("run", "list", PodFacts("pending", name), children)
        in_the_way = derive_login_pod_in_the_way(seen.login_pods, name)
        if in_the_way is not None:
            facts = PodFacts("pending", name, detail=f"Waiting for pod {in_the_way}, which runs this login, to go.")
            return Plan("run", "wait", facts, children)
        return Plan("run", "create", PodFacts("pending", name), children, pod=desired)
    if not owned(existing, provider):
        facts = PodFacts("failed", name, detail=f"a pod named {name} exists that this resource does not own")
        return Plan("run", "wait", facts, children)
    if existing["metadata"].get("deletionTimestamp"):
        return Plan("run", "wait", PodFacts("replacing", name), children)
    status = existing.get("status") or {}
    phase = status.get("phase")
    if phase in ("Failed", "Succeeded"):
        detail = truncate(str(status.get("reason") or status.get("message") or phase))
        facts = PodFacts("failed", name, detail=detail)
        return Plan("run", "delete", facts, children, why="stopped", log_fields={"pod_phase": str(phase)})
    if not derive_pod_has_login(existing, login, fingerprint_key):
        return Plan("run", "delete", PodFacts("replacing", name), children, why="its login changed")
    if pod_hash(existing) != pod_hash(desired):
        annotations = existing["metadata"].get("annotations") or {}
        rendered_from = annotations.get(names.INPUT_HASH_ANNOTATION)
        if rendered_from is None or rendered_from == desired["metadata"]["annotations"][names.INPUT_HASH_ANNOTATION]:
            facts = derive_pod_facts(existing)
            return Plan("run", "delete", facts, children, why="the operator renders it anew", gradual=True)
        return Plan("run", "delete", PodFacts("replacing", name), children, why="its spec changed")
    started_with = (existing["metadata"].get("annotations") or {}).get(names.KEYS_DIGEST_ANNOTATION)
    if keys_digest is not None and started_with is not None and started_with != keys_digest:
        return Plan("run", "delete", PodFacts("replacing", name), children, why="its keys were rotated")
    return Plan("run", "keep", derive_pod_facts(existing), children)


def _plan_removal(provider: Provider, seen: Observation, why: _Removal, children: tuple[dict[str, Any], ...]) -> Plan:
    facts = PodFacts(why)
    if not seen.pod_read:  # a new resource: one may be there (an operator stopped before its status write)
        return Plan("remove", "read", facts, children)
    existing = seen.pod
    if existing is not None and owned(existing, provider) and not existing["metadata"].get("deletionTimestamp"):
        return Plan("remove", "delete", facts, children, why=why)
    return Plan("remove", "wait", facts, children)
