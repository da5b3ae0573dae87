"""`make demo`: the whole system on this machine in one command (`make demo-down` stops it).

It lives under tests/ because it is built from the test harness: the local control plane
(tests/cluster), the pod runner (tests/e2e/podrunner.py: kwok runs no containers, so the provider
pod's containers run as local processes on the pod's loopback IP) and, offline, the fake Anthropic
API (tests/fakes). `python -m tests.demo up|down`; see `steps.py` for what each step does.
"""
