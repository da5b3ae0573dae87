"""`claude-code-operator run`: the operator process (KUBECONFIG or in-cluster config).
`claude-code-operator activator`: the listener of sleeping providers, see `activator/`.
`claude-code-operator login` (also `kubectl claude-code login`): this machine's Claude Code login into the
cluster, see `login/`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys

from pydantic import ValidationError

from .activator.settings import ActivatorSettings
from .api.spec import DEFAULT_IMAGE_REPOSITORY, Resources
from .config import DEFAULT_OPERATOR_LABELS, DEFAULT_WARN_PERCENT, ApiServerEndpoint, OperatorConfig, PodDefaults
from .login.command import add_arguments as add_login_arguments
from .login.command import local_machine, run_login
from .render.images import to_repository


def _labels(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(",") if item]
    if any(len(p) != 2 or not p[0] for p in pairs):
        raise argparse.ArgumentTypeError(f"expected key=value[,key=value...], got {text!r}")
    return {k: v for k, v in pairs}


def _api_server_endpoint(text: str) -> ApiServerEndpoint:
    address, _, port = text.rpartition(":")
    try:
        return ApiServerEndpoint(address=address.removeprefix("[").removesuffix("]"), port=port)
    except ValidationError:
        raise argparse.ArgumentTypeError(f"expected IP:port (IPv6 as [IP]:port), got {text!r}") from None


def _repository(text: str) -> str:
    if not text or to_repository(text) != text or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"expected an image repository without tag or digest, got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claude-code-operator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the operator")
    scope = run.add_mutually_exclusive_group(required=True)
    scope.add_argument("-n", "--namespace", action="append", dest="namespaces", help="watch this namespace (repeat)")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    run.add_argument(
        "--liveness", metavar="URL", help="serve liveness (API access checked) e.g. http://0.0.0.0:8080/healthz"
    )
    run.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    run.add_argument("--metrics-host", default="0.0.0.0")
    run.add_argument("--standalone", action="store_true", help="no peering (one replica only)")
    run.add_argument("--peering", default="claude-code-operator", help="kopf peering name (several replicas)")
    run.add_argument(
        "--priority",
        type=int,
        help="peering priority; replicas with equal priorities all pause (default: random per process)",
    )
    run.add_argument(
        "--operator-namespace",
        default=os.environ.get("POD_NAMESPACE", "claude-code-operator"),
        help="namespace of the operator's pods (the provider NetworkPolicy admits probes from them)",
    )
    run.add_argument(
        "--operator-labels",
        type=_labels,
        default=dict(DEFAULT_OPERATOR_LABELS),
        help="labels of the operator's pods, key=value[,key=value]",
    )
    run.add_argument(
        "--resync-seconds",
        type=float,
        default=300.0,
        help="reconcile every resource again this often, for what no event announces (default 300)",
    )
    for container in ("runtime", "litellm"):
        run.add_argument(
            f"--{container}-resources",
            type=Resources.model_validate_json,
            help=f"JSON requests and limits of the {container} container where a resource sets none "
            '(e.g. \'{"requests": {"memory": "512Mi"}}\'; default: sized from measured RSS)',
        )
    run.add_argument(
        "--rollout-seconds",
        type=float,
        default=5.0,
        help="replace pods that only a new operator version renders differently at most once this often (default 5)",
    )
    run.add_argument(
        "--quota-warn-percent",
        type=int,
        default=DEFAULT_WARN_PERCENT,
        choices=range(1, 101),
        metavar="1-100",
        help="QuotaLow turns True when a usage window of a plan is this much used, unless the resource's "
        "spec.quota.warnPercent says otherwise (default %(default)s)",
    )
    run.add_argument(
        "--default-sleep-after-seconds",
        type=int,
        default=None,
        metavar="SECONDS",
        help="give new resources that set no spec.idle.sleepAfterSeconds this one (written into their spec when "
        "first seen; existing resources are never changed); default: none",
    )
    run.add_argument(
        "--api-server-endpoint",
        type=_api_server_endpoint,
        action="append",
        default=[],
        dest="api_server",
        metavar="IP:PORT",
        help="a real address of the API server (repeat); default: the default/kubernetes EndpointSlice's",
    )
    run.add_argument(
        "--allowed-image",
        type=_repository,
        action="append",
        default=[],
        dest="allowed_images",
        metavar="REPOSITORY",
        help="an image repository provider pods may run (repeat; `prefix/` allows everything under it); "
        f"default: {DEFAULT_IMAGE_REPOSITORY}",
    )
    run.add_argument(
        "--allow-service-type",
        choices=["NodePort", "LoadBalancer"],
        action="append",
        default=[],
        dest="external_service_types",
        help="a Service type besides ClusterIP that resources may ask for, with ipBlock peers in allowFrom (repeat)",
    )
    add_log_arguments(run)
    add_activator_arguments(commands.add_parser("activator", help="hold requests for sleeping providers and wake them"))
    add_login_arguments(commands.add_parser("login", help="copy this machine's Claude Code login into the cluster"))
    return parser


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-format", choices=["json", "plain"], default="json")
    parser.add_argument("--verbose", action="store_true")


#: The activator's tunables: option, ActivatorSettings field, type, meaning.
ACTIVATOR_OPTIONS = (
    ("--host", "host", str, "address of the route and health listeners"),
    ("--health-port", "health_port", int, "serve /healthz here"),
    ("--hold-seconds", "hold_seconds", float, "hold a request this long for a waking provider, then 503"),
    ("--retry-after-seconds", "retry_after_seconds", int, "Retry-After of those 503s"),
    ("--max-held", "max_held", int, "requests held at once, for all providers"),
    ("--max-body-bytes", "max_body_bytes", int, "the largest request body held"),
    ("--wake-burst", "wake_burst", int, "wake-ups one client (source IP) may ask for at once"),
    ("--wakes-per-minute", "wakes_per_minute", float, "wake-ups per minute of one client after the burst"),
    ("--upstream-read-seconds", "upstream_read_seconds", float, "the longest silence of a woken provider"),
)


def add_activator_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--routes-namespace",
        default=os.environ.get("POD_NAMESPACE", "claude-code-operator"),
        help="namespace of the routes ConfigMap (the operator's)",
    )
    for option, field, kind, meaning in ACTIVATOR_OPTIONS:
        default = ActivatorSettings.model_fields[field].default
        parser.add_argument(option, type=kind, default=default, help=f"{meaning} (default %(default)s)")
    add_log_arguments(parser)


def to_activator_settings(args: argparse.Namespace) -> ActivatorSettings:
    """The activator's settings from its command line; SystemExit naming the option of a bad value."""
    try:
        return ActivatorSettings(
            namespace=args.routes_namespace, **{field: getattr(args, field) for _, field, _, _ in ACTIVATOR_OPTIONS}
        )
    except ValidationError as error:
        options = {field: option for option, field, _, _ in ACTIVATOR_OPTIONS}
        faults = [f"{options.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in error.errors()]
        raise SystemExit(f"claude-code-operator activator: {'; '.join(faults)}") from None


def build_plugin_parser() -> argparse.ArgumentParser:
    """`kubectl claude-code ...`: kubectl runs `kubectl-claude_code` (a dash in a plugin's command is an
    underscore in its file name); it offers the commands meant for people, not `run`."""
    parser = argparse.ArgumentParser(prog="kubectl claude-code", description="Claude Code logins for the cluster.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_login_arguments(commands.add_parser("login", help="copy this machine's Claude Code login into the cluster"))
    return parser


def run_activator(settings: ActivatorSettings) -> None:
    from .activator.main import serve

    asyncio.run(serve(settings))


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "login":
        sys.exit(run_login(args, local_machine()))
    if args.command == "activator":
        settings = to_activator_settings(args)
        configure_logs(args)
        run_activator(settings)
        return
    configure_logs(args)
    run_operator(args)


def kubectl_plugin(argv: list[str] | None = None) -> None:
    args = build_plugin_parser().parse_args(sys.argv[1:] if argv is None else argv)
    sys.exit(run_login(args, local_machine()))


def configure_logs(args: argparse.Namespace) -> None:
    """kopf's log set-up (JSON lines with the records' extra fields, or plain), for both long-running commands."""
    import kopf

    kopf.configure(
        verbose=args.verbose,
        log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.FULL,
    )
    # lightkube's client logs every API request at INFO: noise (a JSON line per request, a dozen per new
    # resource), and URLs say nothing the process's own lines do not.
    logging.getLogger("httpx2").setLevel(logging.WARNING)


def run_operator(args: argparse.Namespace) -> None:
    # Only the operator needs kopf and the metrics server; `login` starts faster without them.
    import kopf
    from prometheus_client import start_http_server

    config = OperatorConfig(
        namespaces=tuple(args.namespaces or ()),
        operator_namespace=args.operator_namespace,
        operator_labels=args.operator_labels,
        metrics_port=args.metrics_port,
        resync_seconds=args.resync_seconds,
        rollout_seconds=args.rollout_seconds,
        quota_warn_percent=args.quota_warn_percent,
        default_sleep_after_seconds=args.default_sleep_after_seconds,
        pod_defaults=PodDefaults().overridden(runtime=args.runtime_resources, litellm=args.litellm_resources),
        api_server=tuple(args.api_server),
        external_service_types=tuple(args.external_service_types),
        **({"allowed_images": tuple(args.allowed_images)} if args.allowed_images else {}),
    )
    if not args.verbose:
        # kopf's "Handler ... succeeded" for every pod and Secret event: a JSON line each, thousands in a
        # burst, saying nothing the operator's own lines (pods created, status changes) do not. Its
        # warnings and errors stay.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    from . import handlers  # noqa: F401  - registers the handlers with kopf's default registry

    if config.metrics_port is not None:
        start_http_server(config.metrics_port, addr=args.metrics_host)
    asyncio.run(
        kopf.operator(
            clusterwide=args.all_namespaces,
            namespaces=list(config.namespaces),
            liveness_endpoint=args.liveness,
            standalone=args.standalone,
            peering_name=None if args.standalone else args.peering,
            priority=args.priority if args.priority is not None else secrets.randbelow(1_000_000) + 1,
            memo=kopf.Memo(config=config),
        )
    )


if __name__ == "__main__":
    main()
