"""The pod runner's image mode, planned: how the operator's provider pod runs from the provider image
(user, groups, argv, env, mounts at their real paths, read-only root), and the image's symlinks kept
inside its root filesystem."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from claude_code_devkit.image_runtime import (
    WORKING_CONTAINER_PREFIX,
    Accounts,
    ContainerPlanError,
    ImageConfig,
    LaunchPlan,
    Mount,
    apply_fs_group,
    identity,
    kubernetes_argv,
    plan_container,
    resolve_in_root,
    working_container_name,
)
from claude_code_operator.api.resource import Provider
from claude_code_operator.render.pod import LITELLM_COMMAND, render_pod

#: As the provider image's config says (provider/Dockerfile).
IMAGE = ImageConfig(
    env={"PATH": "/opt/claude-code-provider/bin:/usr/bin:/bin", "HOME": "/home/claude", "LANG": "C.UTF-8"},
    user="10001:10001",
    entrypoint=("claude-code-runtime",),
)
ACCOUNTS = Accounts.parse(
    "root:x:0:0:root:/root:/bin/bash\nclaude:x:10001:10001::/home/claude:/usr/sbin/nologin\n",
    "root:x:0:\nclaude:x:10001:\n",
)
LOGIN = {".credentials.json": b'{"claudeAiOauth": {"accessToken": "sk-ant-oat01-x"}}', ".claude.json": b"{}"}


def operator_pod() -> Any:
    """The operator's pod for a refreshable login (write-back on), as the API serves it."""
    body = {
        "metadata": {"name": "alice", "namespace": "team", "uid": "uid-1", "generation": 1},
        "spec": {"credentials": {"secretName": "alice-login"}},
    }
    pod = render_pod(Provider.from_body(body), LOGIN, b"key")
    pod["metadata"].update(namespace="team", uid="pod-uid")
    return client.ApiClient().deserialize(json.dumps(pod), "V1Pod", "application/json")


def plan(pod: Any, name: str, argv: list[str], env: dict[str, str] | None = None) -> LaunchPlan:
    container = next(c for c in pod.spec.containers if c.name == name)
    volumes = {v.name: Path("/host/volumes") / v.name for v in pod.spec.volumes}
    return plan_container(
        pod,
        container,
        root=Path("/host/root"),
        image=IMAGE,
        accounts=ACCOUNTS,
        argv=argv,
        env=env or {},
        volume_dirs=volumes,
        extra_mounts=[Mount("/host/hosts", "/etc/hosts", read_only=True)],
    )


def test_the_runtime_runs_as_the_pods_user_on_a_read_only_root_with_its_volumes_at_their_paths() -> None:
    runtime = plan(operator_pod(), "claude", ["claude-code-runtime"], {"HOME": "/home/claude", "X": "1"})
    assert (runtime.uid, runtime.gid, runtime.groups) == (10001, 10001, (10001,))
    assert runtime.read_only_root
    assert runtime.no_new_privileges
    assert runtime.argv == ("claude-code-runtime",)
    assert runtime.working_dir == "/"
    assert runtime.env["PATH"].startswith("/opt/claude-code-provider/bin")  # the image's, under the pod's
    assert runtime.env["HOSTNAME"] == "alice-claude-code"
    assert runtime.env["X"] == "1"
    mounts = {m.target: m for m in runtime.mounts}
    assert mounts["/var/run/claude-login"] == Mount("/host/volumes/login", "/var/run/claude-login", read_only=True)
    assert mounts["/var/lib/claude"].read_only is False
    assert mounts["/tmp"] == Mount("/host/volumes/claude-tmp", "/tmp", read_only=False)
    token = mounts["/var/run/secrets/kubernetes.io/serviceaccount"]
    assert token == Mount("/host/volumes/api-access", token.target, read_only=True)
    assert mounts["/etc/hosts"].read_only
    depths = [len(Path(m.target).parts) for m in runtime.mounts]
    assert depths == sorted(depths)  # a parent is mounted before what is mounted inside it


def test_the_sidecar_mounts_only_its_own_volumes_and_its_command_replaces_the_entrypoint() -> None:
    litellm = plan(operator_pod(), "litellm", kubernetes_argv(LITELLM_COMMAND, [], IMAGE))
    assert litellm.argv == tuple(LITELLM_COMMAND)
    assert {m.target for m in litellm.mounts} == {"/etc/litellm", "/tmp", "/etc/hosts"}
    assert all(m.read_only for m in litellm.mounts if m.target != "/tmp")  # a ConfigMap is read-only anyway
    assert litellm.read_only_root
    assert litellm.uid == 10001


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ([], [], ["claude-code-runtime", "--default"]),
        ([], ["--other"], ["claude-code-runtime", "--other"]),
        (["litellm"], [], ["litellm"]),
        (["litellm"], ["--port", "4000"], ["litellm", "--port", "4000"]),
    ],
)
def test_command_replaces_the_entrypoint_and_args_the_cmd(
    command: list[str], args: list[str], expected: list[str]
) -> None:
    image = ImageConfig(entrypoint=("claude-code-runtime",), cmd=("--default",))
    assert kubernetes_argv(command, args, image) == expected


def test_an_image_without_a_program_is_refused() -> None:
    with pytest.raises(ContainerPlanError, match="names a program"):
        kubernetes_argv([], [], ImageConfig())


def test_the_user_comes_from_the_container_then_the_pod_then_the_image() -> None:
    pod = client.V1PodSecurityContext(run_as_user=2000, fs_group=3000, supplemental_groups=[4000])
    container = client.V1SecurityContext(run_as_user=10001)
    assert identity(pod, container, IMAGE, ACCOUNTS) == (10001, 10001, (10001, 4000, 3000))
    assert identity(pod, None, IMAGE, ACCOUNTS) == (2000, 10001, (10001, 4000, 3000))  # group: the image's
    named = ImageConfig(user="claude")
    assert identity(None, None, named, ACCOUNTS) == (10001, 10001, (10001,))  # group: from /etc/passwd
    assert identity(None, None, ImageConfig(), ACCOUNTS) == (0, 0, (0,))


def test_run_as_non_root_refuses_root_and_unknown_names() -> None:
    with pytest.raises(ContainerPlanError, match="runAsNonRoot"):
        identity(client.V1PodSecurityContext(run_as_non_root=True), None, ImageConfig(user="root"), ACCOUNTS)
    with pytest.raises(ContainerPlanError, match="not in its /etc/passwd"):
        identity(None, None, ImageConfig(user="nobody"), ACCOUNTS)


def test_home_comes_from_the_images_passwd_where_no_env_names_one() -> None:
    image = ImageConfig(user="10001")
    pod = operator_pod()
    container = pod.spec.containers[1]
    container.volume_mounts = []
    made = plan_container(
        pod, container, root=Path("/r"), image=image, accounts=ACCOUNTS, argv=["x"], env={}, volume_dirs={}
    )
    assert made.env["HOME"] == "/home/claude"


def test_mount_targets_resolve_the_images_symlinks_inside_its_root(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "var").mkdir()
    (tmp_path / "var/run").symlink_to("/run")  # Debian's
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/alt").symlink_to("../run/x")
    assert resolve_in_root(tmp_path, "/var/run/claude-login") == tmp_path / "run/claude-login"
    assert resolve_in_root(tmp_path, "/etc/alt/y") == tmp_path / "run/x/y"
    assert resolve_in_root(tmp_path, "/../../etc") == tmp_path / "etc"  # never above the root
    (tmp_path / "loop").symlink_to("/loop")
    with pytest.raises(ContainerPlanError, match="too many symlinks"):
        resolve_in_root(tmp_path, "/loop/x")


def test_fs_group_makes_a_volume_group_readable_and_its_directories_setgid(tmp_path: Path) -> None:
    secret = tmp_path / "login"
    secret.mkdir(mode=0o755)
    (secret / "oauth-token").write_text("t")
    (secret / "oauth-token").chmod(0o400)
    apply_fs_group(secret, os.getgid(), read_only=True)
    assert stat.S_IMODE((secret / "oauth-token").stat().st_mode) == 0o440
    assert secret.stat().st_mode & stat.S_ISGID
    scratch = tmp_path / "tmp"
    scratch.mkdir(mode=0o777)
    scratch.chmod(0o777)
    apply_fs_group(scratch, os.getgid(), read_only=False)
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o2777
    apply_fs_group(secret, None, read_only=True)  # without fsGroup nothing changes
    assert stat.S_IMODE((secret / "oauth-token").stat().st_mode) == 0o440


def test_working_containers_are_named_after_their_pod_so_a_left_one_says_whose_it_is() -> None:
    name = working_container_name("demo-1a2b3c", "me-5f7d9", "claude", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    assert name == "podrunner-demo-1a2b3c-me-5f7d9-claude-0f1e2d3c"
    other = working_container_name("demo-1a2b3c", "me-5f7d9", "claude", "9f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    assert name != other, "a pod of the same name that replaced the first gets its own container"
    assert name.startswith(WORKING_CONTAINER_PREFIX)
