"""The development kit: what the tests, the benchmarks and `make demo` are built from, none of it a test.

- `cluster` (the control plane of devkit/cluster/: a real kube-apiserver, controller manager,
  scheduler and etcd with kwok's fake kubelets on 127.0.0.1) and `operator_process` (the operator
  as a process with exactly the chart's RBAC);
- `podrunner` (kwok runs no containers: the pod runner starts a Running pod's containers, from
  .venv/ or from the images `make images` built: `image_runtime`, `image_launch`, `buildah`);
- `fakes` (Anthropic's Messages API and OAuth endpoint on loopback) and `stack` (the provider's
  runtime and LiteLLM proxy as local processes);
- `demo` (`make demo`: the whole system on this machine);
- `network_analyzer` (nothing enforces NetworkPolicy here: the analyzer says what a policy admits);
- one way to wait (`waiting`), to find a port (`ports`) and to stop a process group (`processes`).
"""
