"""Generating an adapter package from a WSDL (``govhub adapter new NAME --from-wsdl``).

:func:`describe_wsdl` (:mod:`faces.devkit.wsdl_model`) says what a WSDL offers: its SOAP
1.1 port's operations with their input and output as JSON Schema 2020-12.
:func:`generate_from_wsdl` writes an installable adapter package from it
(:mod:`faces.devkit.wsdl_package`): a :class:`~adapters.sdk.soap_adapter.SoapAdapter`
with one typed method per operation, a sandbox answering every operation with a sample
that fits, the schemas, settings, a README and tests running the contract suite.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from adapters.sdk.sandbox_wsdl import AUTH_KINDS
from faces.devkit.wsdl_load import WsdlError
from faces.devkit.wsdl_model import OperationModel, WsdlModel, describe_wsdl
from faces.devkit.wsdl_package import render_package

__all__ = [
    "AUTH_KINDS",
    "OperationModel",
    "WsdlError",
    "WsdlModel",
    "describe_wsdl",
    "generate_from_wsdl",
]

#: What an adapter's name may be: a Python package name, as entry points want it.
ADAPTER_NAME = re.compile(r"^[a-z][a-z0-9_]{1,48}$")


def generate_from_wsdl(source: str, *, name: str, auth: str = "none", dest: Path) -> list[Path]:
    """Write an adapter package generated from a WSDL into ``dest``.

    The package: ``pyproject.toml`` (entry points ``govhub.adapters`` and
    ``govhub.sandboxes``), ``<name>/adapter.py`` (a ``SoapAdapter`` with one typed method
    per operation, ``check()`` calling one of them, ``deliver()`` refusing until its
    mapping is written), ``<name>/types.py``, ``<name>/operations/<Operation>.json``,
    ``<name>/sandbox.py``, ``<name>/settings.json``, the WSDL, ``README.md`` and
    ``tests/test_<name>.py``. Everything is rendered before anything is written.

    Args:
        source: The WSDL: a file path or an ``http(s)`` URL.
        name: The adapter's name (a Python package name: ``country_info``).
        auth: ``none``, ``basic`` (HTTP Basic), ``bearer`` (a token) or ``wsse`` (a
            WS-Security UsernameToken).
        dest: The package's folder: absent or empty.

    Returns:
        The files written, ``dest``-relative order: package files first.

    Raises:
        WsdlError: A bad name, auth or destination, or a WSDL that cannot be generated
            from; the message says what to do.
    """
    if not ADAPTER_NAME.match(name):
        raise WsdlError(
            f"adapter name {name!r}: use lower case letters, digits and _ (a Python package"
            " name starting with a letter), e.g. country_info"
        )
    if auth not in AUTH_KINDS:
        raise WsdlError(f"--auth is one of {', '.join(AUTH_KINDS)}, not {auth!r}")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise WsdlError(f"{dest} exists and is not an empty folder: choose a new one")
    files = render_package(describe_wsdl(source), name=name, auth=auth)
    written = []
    for relative, content in files.items():
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    _tidy(dest)
    return written


def _tidy(dest: Path) -> None:
    """Sort imports and format the generated code with ruff, when ruff is installed.

    The templates write code ruff leaves nearly as it is; long names still need a line
    broken here and there. Without ruff the code is the same, only less tidy.
    """
    beside = Path(sys.executable).parent / "ruff"
    ruff = str(beside) if beside.exists() else shutil.which("ruff")
    if ruff is None:
        return
    for command in (
        [ruff, "check", "--quiet", "--fix-only", "--select", "I,RUF022", "."],
        [ruff, "format", "--quiet", "."],
    ):
        subprocess.run(command, cwd=dest, check=False, timeout=60, capture_output=True)  # noqa: S603 - our own ruff on our own files
