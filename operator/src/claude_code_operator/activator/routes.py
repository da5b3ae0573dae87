"""The routes the operator gives the activator: the ConfigMap `claude-code-activator-routes` in the
operator's namespace, key `routes.json`, `{"<port>": {"namespace": NS, "name": NAME, "target": "<ip>:4000"}}`.

One port per sleeping (or waking) provider, from `FIRST_PORT` up; `target` is null until the woken pod is
Ready, then its address. A document with any fault is refused whole, every fault named: a route is never
dropped quietly (the activator keeps serving the routes it had).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

CONFIG_MAP_NAME: Final = "claude-code-activator-routes"
ROUTES_KEY: Final = "routes.json"
FIRST_PORT: Final = 20000
LAST_PORT: Final = 65535

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


class RoutesError(ValueError):
    """The routes document is not valid; `faults` names each problem."""

    def __init__(self, faults: list[str]) -> None:
        super().__init__("invalid activator routes: " + "; ".join(faults))
        self.faults = faults


@dataclass(frozen=True)
class Route:
    namespace: str
    name: str
    #: `<pod ip>:<port>` of the woken pod once it is Ready; None while the provider sleeps or wakes.
    target: str | None = None

    @property
    def provider(self) -> tuple[str, str]:
        return (self.namespace, self.name)


Routes = Mapping[int, Route]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise RoutesError([f"key {k!r} is given more than once" for k in twice])
    return dict(pairs)


def _target_fault(target: object) -> str | None:
    if target is None:
        return None
    if not isinstance(target, str):
        return "target must be null or a string <ip>:<port>"
    address, _, port = target.rpartition(":")
    try:
        ipaddress.ip_address(address.removeprefix("[").removesuffix("]"))
    except ValueError:
        return f"target {target!r} is not <ip>:<port> (IPv6 as [ip]:port)"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"target {target!r} has no port from 1 to 65535"
    return None


def _route(port_text: str, entry: object) -> tuple[int | None, Route | None, list[str]]:
    faults = []
    port = int(port_text) if port_text.isdigit() and not port_text.startswith("0") else None
    if port is None or not FIRST_PORT <= port <= LAST_PORT:
        faults.append(f"port {port_text!r} is not a number from {FIRST_PORT} to {LAST_PORT}")
        port = None
    if not isinstance(entry, dict):
        return port, None, [*faults, f"route {port_text}: expected an object with namespace, name and target"]
    unknown = sorted(set(entry) - {"namespace", "name", "target"})
    if unknown:
        faults.append(f"route {port_text}: unknown keys {unknown}")
    namespace, name, target = entry.get("namespace"), entry.get("name"), entry.get("target")
    if not isinstance(namespace, str) or len(namespace) > 63 or not _LABEL.fullmatch(namespace):
        faults.append(f"route {port_text}: namespace {namespace!r} is not a namespace name")
    if not isinstance(name, str) or len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        faults.append(f"route {port_text}: name {name!r} is not a resource name")
    if (fault := _target_fault(target)) is not None:
        faults.append(f"route {port_text}: {fault}")
    if faults:
        return port, None, faults
    return port, Route(str(namespace), str(name), None if target is None else str(target)), []


def parse_routes(text: str) -> dict[int, Route]:
    """The routes in a `routes.json` text; RoutesError naming every fault (bad JSON, a port outside
    FIRST_PORT..LAST_PORT or given twice, a bad entry, two ports for one provider) otherwise."""
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as error:
        raise RoutesError([f"not JSON: {error}"]) from None
    if not isinstance(document, dict):
        raise RoutesError(["expected an object of port -> route"])
    routes: dict[int, Route] = {}
    faults: list[str] = []
    for port_text, entry in document.items():
        port, route, route_faults = _route(port_text, entry)
        faults += route_faults
        if port is not None and route is not None:
            routes[port] = route
    by_provider: dict[tuple[str, str], list[int]] = {}
    for port, route in routes.items():
        by_provider.setdefault(route.provider, []).append(port)
    faults += [
        f"{ns}/{name} has more than one port: {sorted(ports)}"
        for (ns, name), ports in by_provider.items()
        if len(ports) > 1
    ]
    if faults:
        raise RoutesError(faults)
    return routes


def to_routes_json(routes: Routes) -> str:
    """The `routes.json` text of `routes` (ports in order: an unchanged set of routes is an unchanged text)."""
    document = {
        str(port): {"namespace": route.namespace, "name": route.name, "target": route.target}
        for port, route in sorted(routes.items())
    }
    return json.dumps(document, separators=(",", ":"))
