"""What each image holds: a non-root user, no installer, no secret, the labels a registry shows."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import yaml
from tests.images.conftest import REFS

from claude_code_devkit.buildah import Container, image_config
from claude_code_devkit.paths import REPO

APP_VERSION = yaml.safe_load((REPO / "charts/claude-code-operator/Chart.yaml").read_text())["appVersion"]
UID = 10001
# Where a login, a token or a key would be left by a careless build: every file outside the installed
# Python libraries (whose own test fixtures are not this project's secrets).
LIBRARIES = ("usr/lib/python3", "usr/share", "usr/lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu")
SECRET_NAMES = {".credentials.json", "oauth-token", "credentials", "id_rsa", "id_ed25519", "token"}
SECRET_MARKERS = (b"PRIVATE KEY-----", b"sk-ant-oat", b"sk-ant-api", b"refreshToken")


def test_the_image_runs_as_uid_10001(component: str, container: Callable[[str], Container]) -> None:
    assert image_config(REFS[component])["User"] == f"{UID}:{UID}"
    ids = container(component).run(["python3.11", "-c", "import os; print(os.getuid(), os.getgid())"])
    assert ids.stdout.split() == [str(UID), str(UID)], ids.stderr


def test_nothing_in_the_image_installs_packages(component: str, container: Callable[[str], Container]) -> None:
    c = container(component)
    found = "import importlib.util as u; print([m for m in ('pip', 'setuptools', 'ensurepip') if u.find_spec(m)])"
    probe = c.run(["python3.11", "-c", found])
    assert probe.stdout.strip() == "[]", probe.stderr
    root = c.mount()
    installers = sorted(
        str(p.relative_to(root))
        for pattern in ("opt/*/bin/pip*", "usr/bin/pip*", "usr/bin/gcc*", "usr/bin/cc", "usr/bin/make")
        for p in root.glob(pattern)
    )
    assert installers == []


def secrets_in(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if rel.parts[:1] in (("proc",), ("sys",), ("dev",)):
            dirnames.clear()
            continue
        for name in filenames:
            path = Path(dirpath) / name
            shown = str(path.relative_to(root))
            if name in SECRET_NAMES:
                found.append(shown)
            elif "site-packages" in shown or shown.startswith(LIBRARIES) or not path.is_file() or path.is_symlink():
                continue
            elif path.stat().st_size < 1_000_000 and any(m in path.read_bytes() for m in SECRET_MARKERS):
                found.append(shown)
    return found


def test_no_secret_is_baked_in(component: str, container: Callable[[str], Container]) -> None:
    root = container(component).mount()
    # The host's CA bundle was bind-mounted into the build's RUN steps: buildah leaves the empty mount
    # point in the layer, never the bundle.
    assert {str(p.relative_to(root)): p.stat().st_size for p in root.glob("run/host-ca/**/*") if p.is_file()} in (
        {},
        {"run/host-ca/ca-certificates.crt": 0},
    )
    assert secrets_in(root) == []


def test_the_labels_name_the_image_its_version_source_and_licence(component: str) -> None:
    labels = image_config(REFS[component])["Labels"]
    assert labels["org.opencontainers.image.title"] == f"claude-code-{component}"
    assert labels["org.opencontainers.image.version"] == APP_VERSION
    assert labels["org.opencontainers.image.source"] == "https://github.com/claude-code-operator/claude-code-operator"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
