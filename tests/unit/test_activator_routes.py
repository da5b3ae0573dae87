"""The activator's routes document (`routes.json` in the routes ConfigMap): what is read, and that a
faulty one is refused whole with every fault named, never served with a route dropped."""

from __future__ import annotations

import json

import pytest

from claude_code_operator.activator.routes import Route, RoutesError, parse_routes, to_routes_json


def test_a_route_per_port_sleeping_or_woken() -> None:
    text = json.dumps(
        {
            "20000": {"namespace": "team", "name": "alice", "target": None},
            "20001": {"namespace": "team", "name": "bob", "target": "10.0.0.7:4000"},
            "20002": {"namespace": "ml", "name": "carol", "target": "[fd00::7]:4000"},
        }
    )
    assert parse_routes(text) == {
        20000: Route("team", "alice", None),
        20001: Route("team", "bob", "10.0.0.7:4000"),
        20002: Route("ml", "carol", "[fd00::7]:4000"),
    }


def test_no_routes_is_an_empty_object() -> None:
    assert parse_routes("{}") == {}


def test_what_the_operator_writes_is_read_back_as_written() -> None:
    routes = {20001: Route("team", "bob", "10.0.0.7:4000"), 20000: Route("team", "alice")}
    text = to_routes_json(routes)
    assert text == (
        '{"20000":{"namespace":"team","name":"alice","target":null},'
        '"20001":{"namespace":"team","name":"bob","target":"10.0.0.7:4000"}}'
    )
    assert parse_routes(text) == routes


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ('{"20000": {"namespace": "team", "name": "alice"', "not JSON"),
        ("[]", "expected an object of port -> route"),
        ('{"http": {"namespace": "team", "name": "alice", "target": null}}', "port 'http' is not a number"),
        ('{"19999": {"namespace": "team", "name": "alice", "target": null}}', "port '19999' is not a number"),
        ('{"65536": {"namespace": "team", "name": "alice", "target": null}}', "port '65536' is not a number"),
        ('{"020000": {"namespace": "team", "name": "alice", "target": null}}', "port '020000' is not a number"),
        ('{"-20000": {"namespace": "team", "name": "alice", "target": null}}', "port '-20000' is not a number"),
        (
            '{"20000": {"namespace": "team", "name": "a", "target": null},'
            ' "20000": {"namespace": "team", "name": "b", "target": null}}',
            "key '20000' is given more than once",
        ),
        ('{"20000": "team/alice"}', "route 20000: expected an object"),
        ('{"20000": {"namespace": "Team", "name": "alice", "target": null}}', "namespace 'Team' is not"),
        ('{"20000": {"namespace": "team", "name": "", "target": null}}', "name '' is not a resource name"),
        ('{"20000": {"name": "alice", "target": null}}', "namespace None is not"),
        ('{"20000": {"namespace": "team", "name": "alice", "target": "alice:4000"}}', "is not <ip>:<port>"),
        ('{"20000": {"namespace": "team", "name": "alice", "target": "10.0.0.7"}}', "is not <ip>:<port>"),
        ('{"20000": {"namespace": "team", "name": "alice", "target": "10.0.0.7:0"}}', "no port from 1 to 65535"),
        ('{"20000": {"namespace": "team", "name": "alice", "target": 4000}}', "target must be null or a string"),
        ('{"20000": {"namespace": "team", "name": "alice", "port": 1}}', "unknown keys ['port']"),
        (
            '{"20000": {"namespace": "team", "name": "alice", "target": null},'
            ' "20001": {"namespace": "team", "name": "alice", "target": null}}',
            "team/alice has more than one port: [20000, 20001]",
        ),
    ],
)
def test_a_faulty_document_is_refused_naming_the_fault(text: str, fault: str) -> None:
    with pytest.raises(RoutesError) as refused:
        parse_routes(text)
    assert fault in str(refused.value)


def test_every_fault_is_named_and_no_good_route_is_served_beside_them() -> None:
    text = json.dumps(
        {
            "20000": {"namespace": "team", "name": "alice", "target": None},
            "80": {"namespace": "team", "name": "bob", "target": None},
            "20002": {"namespace": "team", "name": "carol", "target": "nowhere"},
        }
    )
    with pytest.raises(RoutesError) as refused:
        parse_routes(text)
    assert refused.value.faults == [
        "port '80' is not a number from 20000 to 65535",
        "route 20002: target 'nowhere' is not <ip>:<port> (IPv6 as [ip]:port)",
    ]
