"""`make demo`: the whole system on this machine in one command (`make demo-down` stops it).

Built from the kit: the local control plane (devkit/cluster), the pod runner (`podrunner`: kwok runs
no containers, so the provider pod's containers run as local processes on the pod's loopback IP) and,
offline, the fake Anthropic API (`fakes`). `python -m claude_code_devkit.demo up|down`; see
`steps.py` for what each step does.
"""
