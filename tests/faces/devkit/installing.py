"""Making a scaffolded package visible to the hub without touching the venv.

``importlib.metadata`` finds distributions on ``sys.path``: a ``.dist-info`` folder with
the package's ``entry_points.txt`` in a folder of the test's own, plus the package's
source folder on the path, is what ``pip install`` leaves behind, minus the venv.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from pathlib import Path

__all__ = ["python_path", "register"]


def register(package_root: Path, site: Path) -> None:
    """Write the ``.dist-info`` of the package at ``package_root`` into ``site``."""
    project = tomllib.loads((package_root / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"
    ]
    name, version = project["name"], project["version"]
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines.extend(f"{key} = {value}" for key, value in entries.items())
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def python_path(site: Path, package_roots: Iterable[Path]) -> str:
    """``PYTHONPATH`` for a child process that sees ``site`` and the packages."""
    return os.pathsep.join([str(site), *(str(root) for root in package_roots)])
