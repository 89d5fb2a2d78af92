"""``govhub adapter new``: writes an installable adapter package that passes its own tests.

A scaffolded package is a distribution of its own (``govhub-<name>``) holding the
package ``govhub_<name>``: ``adapter.py`` (a :class:`~adapters.sdk.rest.RestAdapter` or
:class:`~adapters.sdk.soap_adapter.SoapAdapter`), ``sandbox.py`` (a simulator with the
``/_sandbox/*`` controls that checks the chosen authentication and honours the
idempotency key), ``settings.json``, a README and ``tests/test_<name>.py`` running the
SDK's contract suite. Its entry points (``govhub.adapters``, ``govhub.sandboxes``) make
the hub find it once it is installed.

The templates are files under ``faces/devkit/templates/`` rendered with Jinja2 (already
there through Flask). :func:`render`, :func:`write_files`, :func:`settings_schema`,
:func:`names_for`, :func:`template_context` and :func:`package_files` are public so that
other generators (the WSDL importer) write packages of the same shape.
"""

from __future__ import annotations

import json
import keyword
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from wcwidth import wcswidth

__all__ = [
    "AUTHS",
    "DEFAULT_AUTH",
    "KINDS",
    "TEMPLATES",
    "AdapterNames",
    "ScaffoldError",
    "check_combination",
    "check_dest",
    "check_name",
    "check_title",
    "names_for",
    "package_files",
    "render",
    "scaffold",
    "settings_schema",
    "template_context",
    "write_files",
]

TEMPLATES = Path(__file__).resolve().parent / "templates"
KINDS = ("rest", "soap")
AUTHS = ("none", "basic", "bearer", "hmac", "wsse")
#: The authentication a kind gets when ``--auth`` is not given: what most such
#: counterparts ask for.
DEFAULT_AUTH = {"rest": "bearer", "soap": "wsse"}
#: Titles go into docstrings: this wide at most (a Chinese character takes two), so
#: every line stays within 100 columns.
_TITLE_COLUMNS = 24
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
#: Sandboxes of scaffolded adapters listen on a port in this range by default (the
#: built-in ones use 99xx).
_PORTS = (9700, 9900)


class ScaffoldError(Exception):
    """What is wrong with the request, and what to do instead (shown as it is)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class AdapterNames:
    """The names one adapter goes by.

    Attributes:
        name: The registered name (``adapter = "<name>"`` in govhub.toml): ``housing_fund``.
        package: The import package: ``govhub_housing_fund``.
        distribution: The distribution pip installs: ``govhub-housing-fund``.
        class_name: The adapter class: ``HousingFund``.
        title: For people: ``housing fund``.
        port: The sandbox's default port.
    """

    name: str
    package: str
    distribution: str
    class_name: str
    title: str
    port: int


def names_for(name: str, title: str | None = None) -> AdapterNames:
    """The names of adapter ``name`` (a lower_snake_case identifier, see :func:`check_name`).

    Args:
        name: The adapter's registered name.
        title: What people call the counterpart (default: ``name`` with spaces).
    """
    low, high = _PORTS
    return AdapterNames(
        name=name,
        package=f"govhub_{name}",
        distribution=f"govhub-{name.replace('_', '-')}",
        class_name="".join(part.capitalize() for part in name.split("_") if part),
        title=title or name.replace("_", " "),
        port=low + zlib.crc32(name.encode()) % (high - low),
    )


def check_name(name: str, taken: Iterable[str] = ()) -> None:
    """Refuse a name that cannot be an adapter's.

    Args:
        name: The proposed name.
        taken: Names of installed adapters and sandboxes.

    Raises:
        ScaffoldError: Not a lower_snake_case Python identifier of 2..40 characters, a
            keyword, or the name of an installed adapter or sandbox.
    """
    if not _NAME.match(name) or not name.isidentifier() or name.endswith("_"):
        raise ScaffoldError(
            f"{name!r} cannot be an adapter's name",
            "use 2 to 40 lower-case letters, digits and underscores, starting with a letter"
            " (a Python identifier such as housing_fund)",
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ScaffoldError(f"{name!r} is a Python keyword", "choose another name")
    if name in set(taken):
        raise ScaffoldError(
            f"an adapter or sandbox called {name!r} is installed already",
            "choose another name (`govhub adapters list` shows the installed ones)",
        )


def check_title(title: str) -> None:
    """Refuse a title that cannot go into docstrings, TOML and XML as it is.

    Raises:
        ScaffoldError: Empty, wider than 24 columns (12 Chinese characters), or holding
            quotes, backslashes, ``<``, ``>``, ``&``, ``--`` or control characters.
    """
    if not title.strip() or wcswidth(title) > _TITLE_COLUMNS:
        raise ScaffoldError(
            f"the title is empty or wider than {_TITLE_COLUMNS} columns",
            "give a short name, such as 住房公积金管理中心",
        )
    if any(ch in title for ch in "\"'\\<>&`") or "--" in title or not title.isprintable():
        raise ScaffoldError(
            f"the title {title!r} holds characters it cannot carry",
            "leave out quotes, backslashes, <, >, &, ` and --",
        )


def check_dest(dest: Path) -> None:
    """Refuse a destination that is a file or a folder with something in it.

    Raises:
        ScaffoldError: ``dest`` exists and is not an empty folder.
    """
    if dest.is_file():
        raise ScaffoldError(f"{dest} is a file", "name a new or empty folder with --dest")
    if dest.is_dir() and any(dest.iterdir()):
        raise ScaffoldError(
            f"{dest} is not empty; nothing was written",
            "name a new or empty folder with --dest (nothing is ever overwritten)",
        )


def check_combination(kind: str, auth: str) -> None:
    """Refuse a kind or authentication the scaffold does not know, or one that cannot be.

    Raises:
        ScaffoldError: Unknown kind or auth, or WS-Security on REST.
    """
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}", f"choose one of {', '.join(KINDS)}")
    if auth not in AUTHS:
        raise ScaffoldError(f"unknown auth {auth!r}", f"choose one of {', '.join(AUTHS)}")
    if kind == "rest" and auth == "wsse":
        raise ScaffoldError(
            "WS-Security (wsse) is a SOAP header; a REST adapter cannot use it",
            "use --kind soap --auth wsse, or --auth basic, bearer or hmac for REST",
        )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - the output is Python, TOML and Markdown, not HTML
    )


def render(template: str, **context: Any) -> str:
    """Render ``faces/devkit/templates/<template>`` with ``context``.

    Jinja2 with ``StrictUndefined`` (a name the template uses but the context lacks is
    an error, not an empty string), blocks trimmed so ``{% if %}`` lines leave no blank
    lines behind.

    Args:
        template: The template's path under ``faces/devkit/templates/``.
        **context: The values it uses.

    Returns:
        The rendered text.
    """
    return _environment().get_template(template).render(**context)


def write_files(files: Mapping[str, str], dest: Path) -> list[Path]:
    """Write ``{relative path: text}`` under ``dest``, which must be new or empty.

    Returns:
        The files written, in the order given.

    Raises:
        ScaffoldError: ``dest`` has something in it already (nothing is written).
    """
    check_dest(dest)
    written = []
    for relative, text in files.items():
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


#: What each authentication adds to the settings (besides the connection ones).
_AUTH_PROPERTIES: dict[str, dict[str, dict[str, Any]]] = {
    "none": {},
    "basic": {
        "username": {"type": "string", "minLength": 1, "description": "HTTP Basic user."},
        "password": {
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "description": "Its password; use ${VAR}.",
        },
    },
    "bearer": {
        "token": {
            "type": "string",
            "minLength": 8,
            "writeOnly": True,
            "description": "The API token sent as Authorization: Bearer; use ${VAR}.",
        },
    },
    "hmac": {
        "app_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "description": "The hub's app id at the counterpart.",
        },
        "app_secret": {
            "type": "string",
            "minLength": 8,
            "writeOnly": True,
            "description": "The key every request is signed with (HMAC-SHA256); use ${VAR}.",
        },
    },
    "wsse": {
        "username": {"type": "string", "minLength": 1, "description": "WS-Security user."},
        "password": {
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "description": "WS-Security password; use ${VAR}.",
        },
        "password_digest": {
            "type": "boolean",
            "default": True,
            "description": "Send a PasswordDigest (the password never travels) rather than text.",
        },
    },
}


def settings_schema(names: AdapterNames, kind: str, auth: str) -> dict[str, Any]:
    """The destination settings of a scaffolded adapter, as JSON Schema 2020-12.

    ``url`` and the SDK's connection settings, the WSDL location for SOAP, and what the
    authentication needs (secrets ``writeOnly``); ``additionalProperties`` is false.
    """
    from adapters.sdk.settings import CONNECTION_PROPERTIES
    from adapters.sdk.soap_adapter import SOAP_PROPERTIES

    url = dict(CONNECTION_PROPERTIES["url"])
    endpoint = "/soap/" + names.class_name if kind == "soap" else ""
    url["description"] = (
        f"{'The SOAP endpoint' if kind == 'soap' else 'The base URL'} of {names.title}"
        f" (the sandbox: http://127.0.0.1:{names.port}{endpoint})."
    )
    properties: dict[str, Any] = {"url": url}
    if kind == "soap":
        properties["wsdl"] = SOAP_PROPERTIES["wsdl"]
    properties.update(_AUTH_PROPERTIES[auth])
    properties.update({k: v for k, v in CONNECTION_PROPERTIES.items() if k != "url"})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{names.name} destination settings",
        "type": "object",
        "additionalProperties": False,
        "required": ["url", *(k for k, v in _AUTH_PROPERTIES[auth].items() if "default" not in v)],
        "properties": properties,
    }


def _credentials(names: AdapterNames, auth: str) -> dict[str, Any]:
    """The sandbox's own credentials, as the templates write them."""
    public = "  # noqa: S105 - a sandbox's public test value"
    stem = names.name.replace("_", "-")
    if auth in ("basic", "wsse"):
        constants = {"DEFAULT_USERNAME": "govhub", "DEFAULT_PASSWORD": f"sandbox-{stem}-password"}
        parameters = {"username": ("DEFAULT_USERNAME", "The user it accepts.")}
        parameters["password"] = ("DEFAULT_PASSWORD", "Its password.")
    elif auth == "bearer":
        constants = {"DEFAULT_TOKEN": f"sandbox-{stem}-token-0001"}
        parameters = {"token": ("DEFAULT_TOKEN", "The API token it accepts.")}
    elif auth == "hmac":
        constants = {
            "DEFAULT_APP_ID": "govhub-sandbox",
            "DEFAULT_APP_SECRET": f"sandbox-{stem}-secret-0001",
        }
        parameters = {"app_id": ("DEFAULT_APP_ID", "The hub's app id.")}
        parameters["app_secret"] = ("DEFAULT_APP_SECRET", "The key requests are signed with.")
    else:
        constants, parameters = {}, {}
    return {
        "constants": [
            f'{key} = "{value}"'
            + (public if key not in ("DEFAULT_USERNAME", "DEFAULT_APP_ID") else "")
            for key, value in constants.items()
        ],
        "constant_names": sorted(constants),
        "parameters": ", ".join(
            f"{key}: str = {default}" for key, (default, _) in parameters.items()
        ),
        "parameter_docs": [f"{key}: {doc}" for key, (_, doc) in parameters.items()],
        "settings": [f'"{key}": {default},' for key, (default, _) in parameters.items()],
    }


def template_context(names: AdapterNames, kind: str, auth: str) -> dict[str, Any]:
    """What every template of a package sees: the names, the kind, the auth.

    Besides :class:`AdapterNames`' fields, ``Title`` (capitalised), ``kind``, ``auth`` and
    ``credentials``: the
    sandbox's public test credentials (``constants``, ``constant_names``,
    ``parameters`` of ``create_app``, ``parameter_docs``, ``settings`` lines).
    """
    return {
        **asdict(names),
        "Title": names.title[:1].upper() + names.title[1:],
        "kind": kind,
        "auth": auth,
        "credentials": _credentials(names, auth),
    }


def package_files(
    names: AdapterNames,
    kind: str,
    auth: str,
    *,
    own: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every file of a scaffolded package, ``{relative path: text}``.

    Args:
        names: The adapter's names.
        kind: ``rest`` or ``soap``.
        auth: One of :data:`AUTHS` (``wsse`` for SOAP only).
        own: Files a generator writes itself (the WSDL importer's adapter, sandbox and
            WSDL), replacing or adding to the scaffold's under the same paths.
    """
    check_combination(kind, auth)
    context = template_context(names, kind, auth)
    package = names.package
    files = {
        "pyproject.toml": render("pyproject.toml.tmpl", **context),
        "README.md": render("README.md.tmpl", **context),
        f"{package}/__init__.py": render("__init__.py.tmpl", **context),
        f"{package}/adapter.py": render(f"{kind}/adapter.py.tmpl", **context),
        f"{package}/sandbox.py": render(f"{kind}/sandbox.py.tmpl", **context),
        f"{package}/settings.json": json.dumps(
            settings_schema(names, kind, auth), ensure_ascii=False, indent=2
        )
        + "\n",
        f"tests/test_{names.name}.py": render("test_adapter.py.tmpl", **context),
    }
    if kind == "soap":
        files[f"{package}/service.wsdl"] = render("soap/service.wsdl.tmpl", **context)
    if auth in ("basic", "bearer", "hmac"):
        files[f"{package}/auth.py"] = render("auth.py.tmpl", **context)
    files.update(own or {})
    return dict(sorted(files.items()))


def scaffold(
    name: str,
    *,
    kind: str,
    auth: str,
    dest: Path,
    title: str | None = None,
    taken: Iterable[str] = (),
) -> list[Path]:
    """Check the request, then write the package of adapter ``name`` into ``dest``.

    Args:
        name: The adapter's registered name.
        kind: ``rest`` or ``soap``.
        auth: One of :data:`AUTHS`.
        dest: A new or empty folder.
        title: What people call the counterpart (default: ``name`` with spaces).
        taken: Names of the installed adapters and sandboxes.

    Returns:
        The files written.

    Raises:
        ScaffoldError: A bad name, kind or auth, or a folder with something in it;
            nothing is written then.
    """
    check_name(name, taken)
    if title is not None:
        check_title(title)
    check_combination(kind, auth)
    check_dest(dest)
    return write_files(package_files(names_for(name, title), kind, auth), dest)
