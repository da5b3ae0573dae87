"""Print a package's requirements from its pyproject.toml, one a line, for `pip install --requirement`.

The images install these (pinned by constraints.txt) in a layer of their own before the package's
sources are copied, so a source change rebuilds only the last layer. Runs on the base image's Python
3.11: standard library only.

    python3.11 requirements.py provider/pyproject.toml proxy > /tmp/requirements.txt
"""

import sys
import tomllib


def main(pyproject: str, *extras: str) -> None:
    with open(pyproject, "rb") as f:
        project = tomllib.load(f)["project"]
    requirements = list(project.get("dependencies", []))
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    print("\n".join(requirements))


if __name__ == "__main__":
    main(*sys.argv[1:])
