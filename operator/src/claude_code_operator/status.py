"""Pure: (previous status, provider, what was seen, now) -> the new status and the Events to post.

Facts not given (None) keep what the previous status says, so the reconciler (credentials, pod)
and the prober (auth) each update their own conditions. Equal input gives an equal status, so the
caller writes only when something changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import contract
from .api.resource import Provider
from .api.status import (
    Auth,
    ClaudeCodeProviderStatus,
    Condition,
    ConditionStatus,
    ConditionType,
    Phase,
    find_condition,
    set_condition,
)
from .config import DEFAULT_WARN_PERCENT
from .credentials import CredentialsCheck
from .observations import PodFacts, PodState, ProbeFacts
from .probe import auth_status_url
from .quota import NO_WINDOWS, QUOTA_OK, derive_quota, derive_usage
from .render import names
from .sleep import SleepState
from .wire import to_rfc3339

_POD_REASONS: dict[str, tuple[ConditionStatus, str, str]] = {
    "ready": ("True", "PodReady", "Pod {pod} is running and ready."),
    "pending": ("False", "PodStarting", "Pod {pod} is starting. {detail}"),
    "unready": ("False", "PodNotReady", "Pod {pod} runs but is not ready ({detail}); see Authenticated."),
    "replacing": ("False", "PodReplacing", "The old pod {pod} is being removed before its replacement starts."),
    "failed": ("False", "PodFailed", "Pod {pod} failed ({detail}); it is being replaced."),
    "suspended": ("False", "Suspended", "spec.suspend is true: the pod was removed. Set it to false to serve again."),
    "withheld": ("False", "NoUsableLogin", "No pod is started until CredentialsValid is True."),
    "asleep": ("False", "Asleep", "The provider sleeps (see Asleep): its pod was removed; a wake starts it again."),
    "refused": (
        "False",
        "Refused",
        "The API server refused {detail} Fix what it names (a ResourceQuota, an admission webhook, "
        "spec.placement); the operator tries again with backoff.",
    ),
}


#: The Asleep condition of each sleep state; {after} is spec.idle.sleepAfterSeconds.
_SLEEP_REASONS: dict[SleepState, tuple[ConditionStatus, str, str]] = {
    "asleep": (
        "True",
        "Idle",
        "No request for {after} s: the pod was removed, its login written back first. A request to the endpoint, "
        f"or the annotation {contract.WAKE_REQUESTED_ANNOTATION} set to a newer time, wakes it.",
    ),
    "woken": (
        "False",
        "WakeRequested",
        f"Woken by the annotation {contract.WAKE_REQUESTED_ANNOTATION}; it sleeps again after {{after}} s "
        "without a request.",
    ),
    "awake": ("False", "NotIdle", "The pod sleeps after {after} s without a request."),
    "off": ("False", "SleepDisabled", "spec.idle.sleepAfterSeconds is unset or 0: the pod never sleeps."),
}


@dataclass(frozen=True)
class ConditionRule:
    """How one condition type behaves: a new condition type is one row of `RULES`."""

    #: The status that means all is well (RateLimited and LoginExpiring are good when False).
    good: ConditionStatus
    #: Its changes post an Event (Ready summarises the others and would only repeat them).
    eventful: bool = True
    #: Reasons on the way to an outcome (a pod starting, a login not checked yet): news only when they
    #: replace an outcome (a pod that was ready and is lost).
    under_way: frozenset[str] = frozenset()
    #: Statuses that are no news on a fresh resource besides `good` (an expiry nobody wrote down).
    quiet_first: frozenset[ConditionStatus] = frozenset()
    #: Reasons that are never news (another condition's Event says it: a pod removed while it sleeps).
    quiet: frozenset[str] = frozenset()
    #: Its changes are news but never a problem: Normal Events either way (falling asleep, waking).
    neutral: bool = False


RULES: dict[ConditionType, ConditionRule] = {
    "CredentialsValid": ConditionRule(good="True"),
    "PodReady": ConditionRule(good="True", under_way=frozenset({"PodStarting"}), quiet=frozenset({"Asleep"})),
    "Authenticated": ConditionRule(good="True", under_way=frozenset({"Probing", "NoPod"}), quiet=frozenset({"Asleep"})),
    "RateLimited": ConditionRule(good="False"),
    "LoginExpiring": ConditionRule(good="False", quiet_first=frozenset({"Unknown"})),
    "QuotaLow": ConditionRule(good="False"),
    "Asleep": ConditionRule(good="False", under_way=frozenset({"NotIdle", "SleepDisabled"}), neutral=True),
    "Ready": ConditionRule(good="True", eventful=False),
}
#: What Ready waits for, in order: the first that is not True says why.
_READY_NEEDS: tuple[ConditionType, ...] = ("CredentialsValid", "PodReady", "Authenticated")


@dataclass(frozen=True)
class Facts:
    credentials: CredentialsCheck | None = None
    pod: PodFacts | None = None
    probe: ProbeFacts | None = None
    sleep: SleepState | None = None


@dataclass(frozen=True)
class Transition:
    type: str  # Normal or Warning
    reason: str
    message: str


def _time(value: datetime | None) -> str:
    return to_rfc3339(value) if value is not None else "an unknown time"


def derive_fix(provider: Provider, kind: str | None) -> str:
    """The exact commands that give the resource a new login."""
    ns, name, secret = provider.namespace, provider.name, provider.spec.credentials.secret_name
    laptop = f"claude-code-operator login --namespace {ns} --name {name}"
    if secret != names.login_secret_name(name):
        laptop += f" --secret-name {secret}"
    setup_token = f"run `claude setup-token` on a laptop and pipe it to `{laptop} --token-stdin`"
    if kind == "setup-token":
        return f"To renew it, {setup_token}."
    in_pod = f"kubectl exec -it {names.pod_name(name)} -n {ns} -c claude -- claude auth login"
    fix = f"Log in again from a laptop with `{laptop}`, or in the pod with `{in_pod}`"
    return f"{fix}." if kind == "oauth" else f"{fix}; for a setup-token login, {setup_token}."


def _login_expiring(provider: Provider, auth: Auth, now: datetime) -> tuple[ConditionStatus, str, str]:
    fix = derive_fix(provider, auth.login_kind)
    end = auth.login_expires_at
    if auth.login_kind == "oauth" and end is None:
        message = "The access token (about 8 h) is refreshed in the pod and written back to the login Secret."
        return "False", "RefreshedInPod", message
    if end is None:
        message = (
            "The login Secret does not say when its setup-token expires (annotation "
            f"claudecode.dev/login-expires-at, set by `claude-code-operator login`). {fix}"
        )
        return "Unknown", "ExpiryUnknown", message
    if end <= now:
        return "True", "LoginExpired", f"The login expired at {_time(end)}. {fix}"
    warning = timedelta(hours=provider.spec.credentials.expiry_warning_hours)
    if end - warning <= now:
        return "True", "LoginExpiresSoon", f"The login expires at {_time(end)}. {fix}"
    return "False", "NotExpiringSoon", f"The login expires at {_time(end)}."


def _write_back_failing(provider: Provider, result: str | None) -> str | None:
    """The LoginExpiring message for a failed write-back ``result``, or None when it did not fail."""
    if result == contract.WRITE_BACK_SUPERSEDED:
        return (
            "A newer login arrived in the login Secret: the pod stopped writing its own login back and did not "
            "write over it. The pod is replaced to serve the new login; if it keeps the old one, delete it."
        )
    if result not in contract.WRITE_BACK_FAILED:
        return None
    message = (
        "The pod could not write its refreshed login back to the login Secret (see the `claude` container's "
        "logs and the pod's ServiceAccount); a new pod would start from a spent refresh token. "
    )
    return message + derive_fix(provider, "oauth")


#: Refusals of the login's organization (contract.KIND_*): Authenticated's reason and what to do.
_ACCOUNT_REFUSALS: dict[str, tuple[str, str]] = {
    contract.KIND_ORGANIZATION_DISABLED: (
        "OrganizationDisabled",
        "Logging in again to that organization does not help: ask its administrator or Anthropic's support, "
        "or give the resource the login of another account (`claude-code-operator login`).",
    ),
    contract.KIND_OAUTH_NOT_ALLOWED: (
        "OAuthNotAllowed",
        "Logging in again to that organization does not help: ask its administrator to allow Claude Code with "
        "subscription logins, or give the resource the login of another account (`claude-code-operator login`).",
    ),
}


def _auth_condition(provider: Provider, probe: ProbeFacts, kind: str | None) -> tuple[ConditionStatus, str, str]:
    report = probe.report
    if report is None:
        return (
            "Unknown",
            "ProbeFailed",
            # No counts or times here: a message that changes with every failed probe would be a write per probe.
            f"{auth_status_url(probe.pod_ip or '')} does not answer "
            f"({probe.detail}). Check the pod's `claude` container logs.",
        )
    if report.logged_in:
        return "True", "LoggedIn", report.reason
    if report.method in contract.API_KEY_METHODS:
        reason = "ApiKeyConfigured"
    elif report.last_result == contract.OUTCOME_UNAUTHORIZED:
        refusal = _ACCOUNT_REFUSALS.get(report.last_kind or "")
        if refusal is not None:
            # A new login to the same account does not help: no login commands, what does instead.
            return "False", refusal[0], f"{report.reason} {refusal[1]}"
        reason = "LoginRevoked" if report.last_kind == contract.KIND_LOGIN_REVOKED else "LoginRejected"
    else:
        reason = "NotLoggedIn"
    return "False", reason, f"{report.reason} {derive_fix(provider, kind)}"


def _rate_condition(probe: ProbeFacts) -> tuple[ConditionStatus, str, str]:
    """A usage limit is in effect while the runtime says until when (`rateLimitedUntil`); its last
    request's `rate_limited` (contract.OUTCOME_USAGE_LIMIT) stays after the limit reset, until the next
    request, so it alone says nothing of now."""
    report = probe.report
    if report is not None and report.rate_limited_until is not None:
        until = _time(report.rate_limited_until)
        window = f"{contract.to_window_name(report.limited_window)} " if report.limited_window else ""
        return "True", "UsageLimitReached", f"The subscription's {window}usage limit is reached; it resets at {until}."
    return "False", "WithinLimits", "No usage limit in effect."


def _ready(conditions: list[Condition]) -> tuple[ConditionStatus, str, str]:
    asleep = find_condition(conditions, "Asleep")
    credentials = find_condition(conditions, "CredentialsValid")
    if asleep is not None and asleep.status == "True" and credentials is not None and credentials.status == "True":
        # Nothing routes a sleeping provider's Service to the activator yet (issue 23): until something does,
        # a request finds no pod, so Ready says so rather than promise what a Knative revision would.
        return (
            "False",
            "Asleep",
            f"No pod runs while the provider sleeps: requests fail until it wakes (annotate it "
            f"{contract.WAKE_REQUESTED_ANNOTATION}=<now, RFC 3339 UTC>).",
        )
    for type_ in _READY_NEEDS:
        c = find_condition(conditions, type_)
        if c is None:
            return "Unknown", "Reconciling", "Not reconciled yet."
        if c.status != "True":
            status: ConditionStatus = "Unknown" if c.status == "Unknown" else "False"
            return status, c.reason, c.message
    limited = find_condition(conditions, "RateLimited")
    if limited is not None and limited.status == "True":
        return "False", limited.reason, limited.message
    return "True", "Ready", "The endpoint serves requests."


def _phase(provider: Provider, conditions: list[Condition]) -> Phase:
    def status(type_: ConditionType) -> str | None:
        c = find_condition(conditions, type_)
        return c.status if c is not None else None

    if provider.spec.suspend:
        return "Suspended"
    if status("CredentialsValid") == "False":
        return "Invalid"
    if status("Asleep") == "True":
        return "Asleep"
    pod = find_condition(conditions, "PodReady")
    # A running pod that is not ready is probed still: a rejected login is what turns the runtime unready.
    if status("PodReady") != "True" and (pod is None or pod.reason != "PodNotReady"):
        return "Pending"
    if status("Authenticated") == "False":
        return "Unauthenticated"
    if status("PodReady") != "True":
        return "Pending"
    if status("RateLimited") == "True":
        return "RateLimited"
    if status("Ready") == "True":
        return "Ready"
    auth = find_condition(conditions, "Authenticated")
    return "Degraded" if auth is not None and auth.reason == "ProbeFailed" else "Pending"


#: Authenticated while no pod runs, by why.
_NO_POD_AUTH: dict[PodState, tuple[ConditionStatus, str, str]] = {
    "suspended": ("Unknown", "NoPod", "No pod runs, so the login is not checked."),
    "withheld": ("Unknown", "NoPod", "No pod runs, so the login is not checked."),
    "asleep": ("Unknown", "Asleep", "No pod runs while the provider sleeps; a wake checks the login again."),
}


def _pod_conditions(provider: Provider, facts: Facts) -> list[tuple[ConditionType, tuple[ConditionStatus, str, str]]]:
    """What the reconcile's pod facts and sleep state say: PodReady, Authenticated without a pod, Asleep."""
    out: list[tuple[ConditionType, tuple[ConditionStatus, str, str]]] = []
    pod = facts.pod
    if pod is not None:
        template = _POD_REASONS[pod.state]
        message = template[2].format(pod=pod.name or names.pod_name(provider.name), detail=pod.detail).strip()
        out.append(("PodReady", (template[0], template[1], message)))
        if pod.state in _NO_POD_AUTH:
            out.append(("Authenticated", _NO_POD_AUTH[pod.state]))
    if facts.sleep is not None:
        status, reason, text = _SLEEP_REASONS[facts.sleep]
        out.append(("Asleep", (status, reason, text.format(after=provider.spec.idle.sleep_after_seconds))))
    return out


def derive_status(
    previous: ClaudeCodeProviderStatus,
    provider: Provider,
    facts: Facts,
    now: datetime,
    *,
    warn_percent: int = DEFAULT_WARN_PERCENT,
) -> ClaudeCodeProviderStatus:
    """`warn_percent`: the operator's QuotaLow threshold, for resources whose spec.quota sets none."""
    generation = provider.generation
    now = now.replace(microsecond=0)
    conditions = list(previous.conditions)
    auth = previous.auth
    usage = previous.usage
    pod_name = previous.pod_name
    previous_expiring = find_condition(previous.conditions, "LoginExpiring")
    # Kept between probes: a write-back failure is reported until a probe shows a success.
    write_back_failure = (
        previous_expiring.message
        if previous_expiring is not None and previous_expiring.reason == "WriteBackFailing"
        else None
    )

    def put(type_: ConditionType, triple: tuple[ConditionStatus, str, str]) -> None:
        nonlocal conditions
        conditions = set_condition(conditions, type_, *triple, generation, now)

    if facts.credentials is not None:
        check = facts.credentials
        put("CredentialsValid", ("True" if check.valid else "False", check.reason, check.message))
        if check.login is not None:
            login = check.login
            auth = (auth or Auth()).model_copy(
                update={
                    "login_kind": login.kind,
                    "login_expires_at": login.login_expires_at,
                    "write_back": login.write_back,
                }
            )
    for type_, triple in _pod_conditions(provider, facts):
        put(type_, triple)
    if facts.pod is not None:
        pod_name = facts.pod.name
    if facts.probe is not None:
        put("Authenticated", _auth_condition(provider, facts.probe, auth.login_kind if auth else None))
        report = facts.probe.report
        if report is not None:
            put("RateLimited", _rate_condition(facts.probe))
            auth = (auth or Auth()).model_copy(
                update={
                    "logged_in": report.logged_in,
                    "method": report.method,
                    "subscription_type": report.subscription_type,
                    "expires_at": report.expires_at,
                    "rate_limited_until": report.rate_limited_until,
                    "message": report.reason,
                }
            )
            write_back_failure = _write_back_failing(provider, report.write_back_result)
            usage = derive_usage(report.usage, now)
            threshold = provider.spec.quota.warn_percent or warn_percent
            quota = find_condition(previous.conditions, "QuotaLow")
            put("QuotaLow", derive_quota(quota, previous.usage, usage, threshold, report.last_kind, now))
    if auth is not None and auth.login_kind is not None:
        # Derived at every status derivation (each probe): an expiry approaches without any event.
        if auth.write_back and auth.login_expires_at is None and write_back_failure is not None:
            put("LoginExpiring", ("True", "WriteBackFailing", write_back_failure))
        else:
            put("LoginExpiring", _login_expiring(provider, auth, now))
    if find_condition(conditions, "RateLimited") is None:
        put("RateLimited", ("False", "WithinLimits", "No usage limit in effect."))
    if find_condition(conditions, "QuotaLow") is None:
        put("QuotaLow", ("False", QUOTA_OK, NO_WINDOWS))
    if find_condition(conditions, "Authenticated") is None:
        put("Authenticated", ("Unknown", "Probing", "Waiting for the runtime's first /auth/status answer."))
    put("Ready", _ready(conditions))
    return ClaudeCodeProviderStatus(
        phase=_phase(provider, conditions),
        conditions=conditions,
        endpoint=names.endpoint(provider),
        auth=auth,
        pod_name=pod_name,
        observed_generation=generation if facts.credentials is not None else previous.observed_generation,
        usage=usage,
    )


def derive_transitions(
    previous: ClaudeCodeProviderStatus, current: ClaudeCodeProviderStatus, owner: str | None
) -> list[Transition]:
    """One Event per condition whose status or reason changed to an outcome (not to a state on its way,
    unless it replaces an outcome), with the condition's actionable message."""
    out = []
    whose = f" (login of {owner})" if owner else ""
    for type_, rule in RULES.items():
        if not rule.eventful:
            continue
        new = find_condition(current.conditions, type_)
        old = find_condition(previous.conditions, type_)
        if new is None or (old is not None and (old.status, old.reason) == (new.status, new.reason)):
            continue
        if old is None and (new.status == rule.good or new.status in rule.quiet_first):
            continue  # the first good state of a fresh resource is not news, nor an expiry nobody wrote down
        if new.reason in rule.quiet:
            continue
        if new.reason in rule.under_way and (old is None or old.reason in rule.under_way | rule.quiet):
            continue  # still on its way: the Event comes with the outcome
        kind = "Normal" if new.status == rule.good or rule.neutral else "Warning"
        out.append(Transition(type=kind, reason=new.reason, message=f"{type_} {new.status}: {new.message}{whose}"))
    return out
