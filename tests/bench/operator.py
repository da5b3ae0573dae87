"""`make bench-operator`: the operator at scale against the local control plane; a Markdown report.

N resources (200) are created at once, each with its own login Secret, in a fresh namespace, with the
operator running as a process under the chart's RBAC. Pods are not run (kwok reports them Running; the
operator's probes find nothing listening and say so in status). Measured:

- apply -> pod, Service and status present: p50/p95 over the N resources (first time seen by a watch);
- API requests per resource: the operator's own requests (tests/bench/counted.py counts kopf's and
  lightkube's clients) from the first create until every resource settled, divided by N;
- operator RSS (psutil) once N settled, and once 1,000 settled; the namespace also holds 1,000 unrelated
  Secrets of 100 KiB each (`--unrelated-secrets`, `--unrelated-kib`; Helm's release Secrets reach 1 MiB),
  made before the operator starts: an operator that lists or watches them holds them;
- status writes per minute in steady state: modifications of the resources seen by a watch during
  a quiet window after everything settled (and the operator's own status-write counter).

A bare kopf operator (tests/bench/bare_kopf.py: one create handler writing status.phase, one no-op
timer per resource) is measured the same way in the same run, and the report gives the ratios. So is
the cluster's own floor: with no operator, the bench itself creates each resource and then, at once, the
pod and Service the operator renders for it (a perfect operator that costs nothing and makes only those
two children). And the control plane's CPU (API server, etcd, controller manager, scheduler, kwok)
per resource: on this machine it shares the 2 cores with the operator.
Every wait has a deadline; a phase that misses it is reported with how many resources made it.
"""

from __future__ import annotations

import argparse
import base64
import math
import platform
import re
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

import tests.conftest  # noqa: F401  (network isolation for everything this process starts)
from claude_code_devkit.cluster import Cluster, ensure_cluster
from claude_code_devkit.operator_process import OperatorDeployment, OperatorProcess, install_crd
from claude_code_devkit.waiting import wait_until
from claude_code_operator import contract
from claude_code_operator.api.resource import Provider
from claude_code_operator.render.network import render_service
from claude_code_operator.render.pod import render_pod

GROUP, VERSION, PLURAL = "claudecode.dev", "v1alpha1", "claudecodeproviders"
PROBE = {"intervalSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 1}
PROVIDER_LABEL = "claudecode.dev/provider"
SERVICE_CIDR = "10.0.16.0/20"
CREATORS = 24  # the bench's threads creating resources
MiB = 1024 * 1024


@dataclass
class Seen:
    """First time each object (by resource name) satisfied `ready`, and modifications counted per window."""

    ready: Callable[[Any], bool]
    first: dict[str, float] = field(default_factory=dict)
    modified: int = 0


@dataclass
class Result:
    name: str
    created: int = 0
    latency: dict[str, list[float]] = field(default_factory=dict)
    settle_seconds: float = float("nan")
    requests_per_resource: float = float("nan")
    requests_by_client: dict[str, float] = field(default_factory=dict)
    requests_by_kind: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = float("nan")
    control_plane_cpu: float = float("nan")
    rss_idle: float = float("nan")
    rss_n: float = float("nan")
    rss_1000: float = float("nan")
    steady_modifications_per_min: float = float("nan")
    steady_status_writes_per_min: float | None = None
    notes: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def metric_sum(text: str, name: str, having: str = "") -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{") and having in line
    )


def requests_by_label(text: str) -> dict[str, float]:
    """`bench_api_requests_total` by `client METHOD kind`."""
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("bench_api_requests_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            key = f"{labels['client']} {labels['method']} {labels.get('kind', '?')}"
            counts[key] = counts.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


def api_client(cluster: Cluster) -> client.ApiClient:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
    cfg.connection_pool_maxsize = 32
    return client.ApiClient(cfg)


def delete_namespace(core: client.CoreV1Api, namespace: str) -> None:
    """Delete and wait until it is gone: the next measurement must not share the cores with its clean-up."""
    core.delete_namespace(namespace)

    def gone() -> bool:
        try:
            core.read_namespace(namespace, _request_timeout=30)
        except ApiException as error:
            if error.status == 404:
                return True
            raise
        return False

    try:
        wait_until(gone, timeout=300, interval=1, what=f"namespace {namespace} to be deleted")
    except TimeoutError:
        print(f"bench-operator: namespace {namespace} still being deleted", file=sys.stderr)


def control_plane(cluster: Cluster) -> list[psutil.Process]:
    """The local cluster's own processes (kwokctl runs them from its cache); none for another cluster."""
    home = str(cluster.kubeconfig.parent / "kwok")
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if (proc.info["cmdline"] or [""])[0].startswith(home):
            found.append(proc)
    return found


def cpu_of(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with suppress(psutil.Error):
            total += sum(proc.cpu_times()[:2])
    return total if procs else float("nan")


@contextmanager
def watching(
    list_fn: Callable[..., Any], namespace: str, seen: Seen, name_of: Callable[[Any], str | None], deadline: float
) -> Iterator[None]:
    """Feed `seen` from a watch of `list_fn` in `namespace` until the block ends (or `deadline`)."""
    stop = threading.Event()

    def listed_version() -> str:
        listed = list_fn(namespace, _request_timeout=30)
        return str(
            listed["metadata"]["resourceVersion"] if isinstance(listed, dict) else listed.metadata.resource_version
        )

    def run() -> None:
        version = listed_version()
        while not stop.is_set() and time.monotonic() < deadline:
            w: Any = watch.Watch()  # untyped in the client
            try:
                for event in w.stream(list_fn, namespace, resource_version=version, timeout_seconds=5):
                    obj = event["object"]
                    version = (
                        obj["metadata"]["resourceVersion"] if isinstance(obj, dict) else obj.metadata.resource_version
                    )
                    name = name_of(obj)
                    if name is None:
                        continue
                    if event["type"] == "MODIFIED":
                        seen.modified += 1
                    if name not in seen.first and event["type"] != "DELETED" and seen.ready(obj):
                        seen.first[name] = time.monotonic()
                    if stop.is_set():
                        w.stop()
            except ApiException as exc:
                if exc.status != 410:
                    raise
                version = listed_version()  # the version expired: start again from a fresh list

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=15)


#: Requests small enough that 1,000 pods fit the fake node (32 CPUs, 256 GiB): the operator's defaults
#: (150m and 896 MiB a pod) would leave all but about 200 Pending, never Ready, so never settled. The pods
#: keep the shape the defaults give them (requests and a memory limit); only the quantities are smaller.
SMALL = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}


def resource(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ClaudeCodeProvider",
        "metadata": {"name": name},
        "spec": {
            "credentials": {"secretName": f"{name}-login"},
            "owner": "bench@example.com",
            "probe": PROBE,
            "runtime": {"resources": SMALL},
            "litellm": {"resources": SMALL},
        },
    }


def create_all(api: client.ApiClient, namespace: str, names: list[str], workers: int = CREATORS) -> dict[str, float]:
    """Login Secrets first (not timed), then every resource at once; returns the apply time of each."""
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    applied: dict[str, float] = {}

    def secret(name: str) -> None:
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=f"{name}-login", labels={contract.PROVIDER_LABEL: name}),
            string_data={"oauth-token": "sk-ant-oat01-" + secrets.token_urlsafe(24)},
        )
        core.create_namespaced_secret(namespace, body, _request_timeout=60)

    def create(name: str) -> None:
        applied[name] = time.monotonic()
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, resource(name), _request_timeout=60)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(secret, names))
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(create, names))
    return applied


def delete_resources(custom: client.CustomObjectsApi, namespace: str) -> None:
    """Ask for every resource's deletion. With 1,000 resources on a loaded machine the API server can time
    the collection delete out (504) after marking only some: ask again, a bounded number of times; the
    caller then waits for them to go."""
    for _ in range(10):
        try:
            custom.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, _request_timeout=120)
            return
        except ApiException as error:
            if error.status != 504:
                raise
    raise TimeoutError(f"deleting the resources of {namespace} timed out 10 times")


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_), None)


def operator_settled(obj: dict[str, Any]) -> bool:
    """The operator is done with it: pod ready, and a probe's result (nothing listens) written."""
    pod, auth = condition(obj, "PodReady"), condition(obj, "Authenticated")
    return bool(pod and pod["status"] == "True" and auth and auth.get("reason") == "ProbeFailed")


def bare_settled(obj: dict[str, Any]) -> bool:
    return bool((obj.get("status") or {}).get("phase"))


def create_unrelated_secrets(core: client.CoreV1Api, namespace: str, count: int, kib: int) -> None:
    """Secrets nothing of the operator's names or labels (a database password, a Helm release): `kib` KiB of
    random data each."""

    def one(i: int) -> None:
        body = client.V1Secret(
            metadata=client.V1ObjectMeta(name=f"unrelated-{i:04d}"),
            data={"blob": base64.b64encode(secrets.token_bytes(kib * 1024)).decode()},
        )
        core.create_namespaced_secret(namespace, body, _request_timeout=60)

    with ThreadPoolExecutor(CREATORS) as pool:
        list(pool.map(one, range(count)))


def run(
    which: str,
    cluster: Cluster,
    api: client.ApiClient,
    workdir: Path,
    *,
    count: int,
    total: int,
    steady: float,
    settle_timeout: float,
    unrelated: tuple[int, int] = (0, 0),
) -> Result:
    result = Result(which)
    namespace = f"bench-{which}-{secrets.token_hex(3)}"
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    wait_until(
        lambda: core.list_namespaced_service_account(namespace, field_selector="metadata.name=default").items,
        timeout=60,
        what=f"the default ServiceAccount of {namespace}",
    )
    create_unrelated_secrets(core, namespace, *unrelated)
    deployment = OperatorDeployment(cluster, namespace, workdir / which, release=f"bench-{namespace[-6:]}")
    deployment.workdir.mkdir(parents=True)
    deployment.install_rbac()
    assert deployment.kubeconfig is not None
    program = [sys.executable, "-m", "tests.bench.counted", which] + (["run"] if which == "operator" else [])
    proc = OperatorProcess(
        kubeconfig=deployment.kubeconfig,
        log_path=deployment.workdir / "operator.log",
        args=["--namespace", namespace, "--operator-namespace", namespace],
        program=program,
    )
    deadline = time.monotonic() + 4 * settle_timeout + steady + 600
    is_operator = which == "operator"
    seen = {
        "status": Seen(bare_settled),
        "settled": Seen(operator_settled if is_operator else bare_settled),
        "pod": Seen(lambda obj: True),
        "service": Seen(lambda obj: True),
    }

    def ccp_name(obj: Any) -> str | None:
        return str(obj["metadata"]["name"])

    def provider_of(obj: Any) -> str | None:
        return (obj.metadata.labels or {}).get(PROVIDER_LABEL)

    def list_ccps(ns: str, **kw: Any) -> Any:
        return custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, **kw)

    plane = control_plane(cluster)
    try:
        proc.start()  # returns once the liveness endpoint answers: the idle figure
        rss = psutil.Process(proc.popen.pid if proc.popen else 0)
        result.rss_idle = rss.memory_info().rss / MiB
        with (
            watching(list_ccps, namespace, seen["status"], ccp_name, deadline),
            watching(list_ccps, namespace, seen["settled"], ccp_name, deadline),
            watching(core.list_namespaced_pod, namespace, seen["pod"], provider_of, deadline),
            watching(core.list_namespaced_service, namespace, seen["service"], provider_of, deadline),
        ):
            names = [f"p{i:04d}" for i in range(count)]
            before, cpu_before = proc.metrics(), sum(rss.cpu_times()[:2])
            plane_before = cpu_of(plane)
            applied = create_all(api, namespace, names)
            result.created = len(applied)
            wanted = ["status", "pod", "service"] if is_operator else ["status"]
            start = min(applied.values())
            try:
                wait_until(
                    lambda: all(len(seen[k].first) >= count for k in [*wanted, "settled"]),
                    timeout=settle_timeout,
                    interval=0.5,
                    what=f"{count} resources to settle",
                )
            except TimeoutError:
                result.notes.append(
                    f"{which}: not settled within {settle_timeout:.0f} s: "
                    + ", ".join(f"{k} {len(seen[k].first)}/{count}" for k in [*wanted, "settled"])
                )
            result.settle_seconds = max(seen["settled"].first.values(), default=float("nan")) - start
            for kind in wanted:
                result.latency[kind] = [seen[kind].first[n] - applied[n] for n in names if n in seen[kind].first]
            after = proc.metrics()
            result.cpu_seconds = sum(rss.cpu_times()[:2]) - cpu_before
            result.control_plane_cpu = cpu_of(plane) - plane_before
            for who in ("kopf", "lightkube"):
                label = f'client="{who}"'
                delta = metric_sum(after, "bench_api_requests_total", label) - metric_sum(
                    before, "bench_api_requests_total", label
                )
                result.requests_by_client[who] = delta / count
            result.requests_per_resource = sum(result.requests_by_client.values())
            first, last = requests_by_label(before), requests_by_label(after)
            result.requests_by_kind = {
                key: (n - first.get(key, 0.0)) / count for key, n in sorted(last.items()) if n > first.get(key, 0.0)
            }
            result.rss_n = rss.memory_info().rss / MiB
            answered = [
                item["metadata"]["name"]
                for item in list_ccps(namespace, _request_timeout=30)["items"]
                if (condition(item, "Authenticated") or {}).get("reason") == "LoggedIn"
            ]
            if answered:  # nothing of ours listens on these pod IPs: someone else's pod runner does
                result.notes.append(
                    f"{which}: {len(answered)} resources were answered by a runtime at their pod IP (another test "
                    "session's pod runner ran their pods); the figures after settling are not clean"
                )

            # Steady state: nothing changes, so nothing should be written.
            for s in seen.values():
                s.modified = 0
            writes_before = metric_sum(proc.metrics(), "claude_code_operator_status_writes_total") if is_operator else 0
            time.sleep(steady)  # the measurement window itself, not a wait for a condition
            result.steady_modifications_per_min = seen["status"].modified * 60 / steady
            if is_operator:
                writes = metric_sum(proc.metrics(), "claude_code_operator_status_writes_total") - writes_before
                result.steady_status_writes_per_min = writes * 60 / steady

            # Scale to `total` resources: RSS once they settled.
            more = [f"p{i:04d}" for i in range(count, total)]
            create_all(api, namespace, more)
            try:
                wait_until(
                    lambda: len(seen["settled"].first) >= total,
                    timeout=settle_timeout * 3,
                    interval=1,
                    what=f"{total} resources to settle",
                )
            except TimeoutError:
                result.notes.append(f"{which}: {len(seen['settled'].first)}/{total} settled in time for the RSS figure")
            result.rss_1000 = rss.memory_info().rss / MiB
        # Remove the resources while the operator runs (kopf's finalizers), then the namespace.
        delete_resources(custom, namespace)
        try:
            wait_until(
                lambda: not list_ccps(namespace, _request_timeout=30)["items"],
                timeout=settle_timeout * 2,
                interval=1,
                what="the resources to be deleted",
            )
        except TimeoutError:
            result.notes.append(f"{which}: resources still being deleted at clean-up")
    finally:
        proc.stop()
        deployment.close()
        delete_namespace(core, namespace)
    return result


def run_floor(cluster: Cluster, api: client.ApiClient, *, count: int, settle_timeout: float) -> Result:
    """No operator: the resources are created as `create_all` creates them, and as each creation returns
    a second pool of the same size creates the pod and Service the operator renders for it: a perfect
    operator that costs no CPU, reads nothing, writes no status or Event and makes no other child."""
    result = Result("floor")
    namespace = f"bench-floor-{secrets.token_hex(3)}"
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    deadline = time.monotonic() + settle_timeout + 120
    seen = {"pod": Seen(lambda obj: True), "service": Seen(lambda obj: True)}
    login = {"oauth-token": b"sk-ant-oat01-" + secrets.token_urlsafe(24).encode()}
    applied: dict[str, float] = {}
    plane = control_plane(cluster)

    def provider_of(obj: Any) -> str | None:
        return (obj.metadata.labels or {}).get(PROVIDER_LABEL)

    def children(body: dict[str, Any]) -> None:
        provider = Provider.from_body(body)
        # The answers are not parsed into the client's models: the floor's own client costs little CPU.
        core.create_namespaced_pod(
            namespace,
            render_pod(provider, login, b"bench-fingerprint-key"),
            _request_timeout=60,
            _preload_content=False,
        )
        core.create_namespaced_service(namespace, render_service(provider), _request_timeout=60, _preload_content=False)

    try:
        with (
            watching(core.list_namespaced_pod, namespace, seen["pod"], provider_of, deadline),
            watching(core.list_namespaced_service, namespace, seen["service"], provider_of, deadline),
        ):
            names = [f"p{i:04d}" for i in range(count)]
            plane_before = cpu_of(plane)
            with ThreadPoolExecutor(CREATORS) as operator:
                made = []

                def create(name: str) -> None:
                    applied[name] = time.monotonic()
                    body = custom.create_namespaced_custom_object(
                        GROUP, VERSION, namespace, PLURAL, resource(name), _request_timeout=60
                    )
                    made.append(operator.submit(children, body))

                with ThreadPoolExecutor(CREATORS) as creators:
                    list(creators.map(create, names))
                for future in made:
                    future.result()
            result.created = len(applied)
            try:
                wait_until(
                    lambda: all(len(s.first) >= count for s in seen.values()),
                    timeout=settle_timeout,
                    interval=0.5,
                    what=f"{count} pods and Services",
                )
            except TimeoutError:
                result.notes.append(f"floor: {len(seen['pod'].first)}/{count} pods seen in time")
            result.control_plane_cpu = cpu_of(plane) - plane_before
            for kind, s in seen.items():
                result.latency[kind] = [s.first[n] - applied[n] for n in names if n in s.first]
        delete_resources(custom, namespace)
    finally:
        delete_namespace(core, namespace)
    return result


def report(results: list[Result], count: int, total: int, unrelated: tuple[int, int]) -> str:
    op, bare, floor = results
    lines = [
        f"# Operator benchmark ({platform.machine()}, {psutil.cpu_count()} CPUs, {count} resources at once, "
        f"RSS also at {total})",
        "",
        f"The namespace also holds {unrelated[0]:,} unrelated Secrets of {unrelated[1]} KiB each.",
        "",
        "| measure | claude-code-operator | bare kopf | cluster floor | operator / bare | operator / floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    def cell(value: float | None, fmt: str) -> str:
        return "-" if value is None or math.isnan(value) else fmt.format(value)

    def ratio(a: float, b: float | None) -> str:
        return f"{a / b:.2f}" if b and not math.isnan(a) and not math.isnan(b) else "-"

    def row(label: str, a: float, b: float | None, c: float | None = None, fmt: str = "{:.0f}") -> None:
        lines.append(f"| {label} | {cell(a, fmt)} | {cell(b, fmt)} | {cell(c, fmt)} | {ratio(a, b)} | {ratio(a, c)} |")

    def ms(r: Result, kind: str, q: float) -> float:
        return percentile([v * 1000 for v in r.latency.get(kind, [])], q)

    for kind in ("pod", "service", "status"):
        for label, q in (("p50", 0.5), ("p95", 0.95)):
            base = ms(bare, "status", q) if kind == "status" else None
            low = ms(floor, kind, q) if kind != "status" else None
            row(f"apply -> {kind} {label} (ms)", ms(op, kind, q), base, low)
    row(f"all {count} settled (s)", op.settle_seconds, bare.settle_seconds, fmt="{:.1f}")
    row(f"operator CPU until {count} settled (s)", op.cpu_seconds, bare.cpu_seconds, fmt="{:.1f}")
    row(
        "control-plane CPU per resource (ms)",
        op.control_plane_cpu * 1000 / count,
        bare.control_plane_cpu * 1000 / count,
        floor.control_plane_cpu * 1000 / count,
    )
    row("API requests per resource", op.requests_per_resource, bare.requests_per_resource, fmt="{:.1f}")
    row("RSS idle (MiB)", op.rss_idle, bare.rss_idle)
    row(f"RSS at {count} (MiB)", op.rss_n, bare.rss_n)
    row(f"RSS at {total} (MiB)", op.rss_1000, bare.rss_1000)
    row("resource writes/min, steady", op.steady_modifications_per_min, bare.steady_modifications_per_min, fmt="{:.1f}")
    if op.steady_status_writes_per_min is not None:
        row("status writes/min, steady (operator's counter)", op.steady_status_writes_per_min, None, fmt="{:.1f}")
    lines += ["", "Operator: settled = PodReady True and the probe's result written (nothing listens: kwok runs no "
              "containers); bare kopf: settled = status.phase written; cluster floor: no operator, the resources are "
              "created the same way and, as each creation returns, a second pool of the bench's threads creates its "
              "pod and Service (an operator that costs nothing and makes only those). Control plane: API server, etcd, "
              "controller manager, scheduler and kwok, from apply until settled. Probe interval "
              f"{PROBE['intervalSeconds']} s. Targets (issue 9): p50 <= 500 ms, p95 <= 2 s at 200; no steady-state "
              "writes; RSS <= 150 MB at 1,000."]  # fmt: skip
    for r in (op, bare):
        split = ", ".join(f"{who} {n:.1f}" for who, n in r.requests_by_client.items())
        lines.append(f"- {r.name}: API requests per resource by client: {split}")
        kinds = ", ".join(f"{key} {n:.2f}" for key, n in r.requests_by_kind.items())
        lines.append(f"- {r.name}: by client, verb and kind: {kinds}")
    lines += [f"- {note}" for r in results for note in r.notes]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=200, help="resources created at once")
    parser.add_argument("--total", type=int, default=1000, help="resources for the second RSS figure")
    parser.add_argument("--steady", type=float, default=60, help="seconds of the steady-state window")
    parser.add_argument(
        "--only", choices=("operator", "bare", "floor"), help="measure one of them (no ratios); for quick iterations"
    )
    parser.add_argument("--settle-timeout", type=float, default=300, help="deadline for COUNT resources to settle")
    parser.add_argument("--unrelated-secrets", type=int, default=1000, help="Secrets of others in the namespace")
    parser.add_argument("--unrelated-kib", type=int, default=100, help="size of each unrelated Secret (KiB)")
    args = parser.parse_args()
    # SIGTERM (a CI time-out, `kill`) unwinds like Ctrl-C: the operator stops and its resources go.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    cluster = ensure_cluster(sys.stderr)
    install_crd(cluster)
    api = api_client(cluster)
    core = client.CoreV1Api(api)
    room = sum(int(parse_quantity((node.status.allocatable or {}).get("pods", "0"))) for node in core.list_node().items)
    used = len(core.list_pod_for_all_namespaces(_request_timeout=60).items)
    # The apiserver's default Service range (10.0.0.0/24) holds about 250 ClusterIPs, one per resource
    # here; an extra ServiceCIDR makes room (cluster IPs are never dialled on this machine).
    cidr = {"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR", "metadata": {"name": "bench-operator"},
            "spec": {"cidrs": [SERVICE_CIDR]}}  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as manifest:
        manifest.write(yaml.safe_dump(cidr))
        manifest.flush()
        cluster.kubectl("apply", "-f", manifest.name)
    if room - used < args.total:
        raise SystemExit(
            f"the cluster's nodes take {room} pods and {used} exist: no room for {args.total} more. A cluster made "
            "before devkit/cluster/fake-node.yaml allowed 2,000 keeps kwok's 110: `make cluster-down cluster`."
        )
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
        for which in ("operator", "bare", "floor"):
            if args.only and which != args.only:
                results.append(Result(which))
                continue
            print(f"bench-operator: measuring {which} ...", file=sys.stderr, flush=True)
            if which == "floor":
                results.append(run_floor(cluster, api, count=args.count, settle_timeout=args.settle_timeout))
                continue
            results.append(
                run(
                    which, cluster, api, Path(tmp), count=args.count, total=args.total, steady=args.steady,
                    settle_timeout=args.settle_timeout, unrelated=(args.unrelated_secrets, args.unrelated_kib),
                )
            )  # fmt: skip
    print(report(results, args.count, args.total, (args.unrelated_secrets, args.unrelated_kib)))


if __name__ == "__main__":
    main()
