"""Prometheus metrics of one engine and runtime, on a registry of their own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 120, 300, 600)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "claude_code_requests_total", "Requests by outcome (ok or an error kind).", ["outcome"], registry=r
        )
        self.latency = Histogram(
            "claude_code_request_duration_seconds",
            "Whole requests, by whether a warm CLI process served them.",
            ["path"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.first_token = Histogram(
            "claude_code_time_to_first_token_seconds",
            "From request to the first text delta, by warm or cold CLI process.",
            ["path"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.pool_hits = Counter("claude_code_pool_hits_total", "Requests served by a warm process.", registry=r)
        self.pool_misses = Counter(
            "claude_code_pool_misses_total",
            "Requests that started a CLI process of their own, by reason.",
            ["reason"],
            registry=r,
        )
        self.tool_requests = Counter(
            "claude_code_tool_requests_total", "Requests that offered the model the client's tools.", registry=r
        )
        self.tool_calls = Counter(
            "claude_code_tool_calls_total", "Tool calls returned to clients (never run by the provider).", registry=r
        )
        self.paths = Counter(
            "claude_code_request_paths_total",
            "Answered requests by how they were served: reused (a process kept from an earlier request with "
            "the same options), spare (a parked process claimed), continued (the process whose answer called the "
            "tools whose results came), cold (a process of its own), resume (a process of its own resuming the "
            "history from a transcript), fed (a process of its own fed the history of a conversation with tools).",
            ["path"],
            registry=r,
        )
        self.pool_hit_ratio = Gauge(
            "claude_code_pool_hit_ratio", "Warm hits over all requests since start.", registry=r
        )
        self.pool_ready = Gauge("claude_code_pool_ready_processes", "Warm CLI processes waiting.", registry=r)
        self.cli_processes = Gauge("claude_code_cli_processes", "Claude Code CLI processes alive.", registry=r)
        self.upstream_errors = Counter(
            "claude_code_upstream_errors_total",
            "Requests the upstream or the login failed, by kind.",
            ["kind"],
            registry=r,
        )
        self.in_flight = Gauge("claude_code_requests_in_flight", "Requests being served.", registry=r)
        self.queued = Gauge("claude_code_requests_queued", "Requests waiting for a slot.", registry=r)
        self.login_write_backs = Counter(
            "claude_code_login_write_backs_total",
            "Login write-backs to the Secret by outcome (written, stale, invalid, ...), and 409 conflicts.",
            ["outcome"],
            registry=r,
        )
        self.login_expires_at = Gauge(
            "claude_code_login_written_expires_at_seconds",
            "Expiry (Unix time) of the access token last written back to the login Secret.",
            registry=r,
        )
        self._hits = 0
        self._total = 0

    def record_take(self, hit: bool, reason: str = "") -> None:
        self._total += 1
        if hit:
            self._hits += 1
            self.pool_hits.inc()
        else:
            self.pool_misses.labels(reason=reason).inc()
        self.pool_hit_ratio.set(self._hits / self._total)
