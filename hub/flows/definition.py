"""Flow definitions (模块化审批流程): one TOML file per flow, checked at start-up.

A flow is a set of *modules*, each with a lead department that accepts the project once
(一门受理), the departments that review it jointly (联审联批), a time limit in working days
(限时办结), the materials it needs and the approval documents (licences) it issues. A
module follows the modules named in ``after`` (in order, or several after the same one in
parallel); ``start`` says what starts it: ``"acceptance"`` waits for its lead's
acceptance, ``"auto"`` starts it the moment the modules it follows are approved (the
lead accepts on the strength of what the project has already shown).

``[flows] dir`` in the hub's configuration names a folder of such files (relative to the
configuration file). Every error names the file and the key, and a department whose
``destination`` the configuration does not have stops the hub from starting.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.config import Config, ConfigError
from hub.core.identifiers import IdentifierError, check_uscc

__all__ = [
    "BUILTIN_DIR",
    "REVIEW_TYPE",
    "Department",
    "Flow",
    "Licence",
    "Material",
    "Module",
    "flows_from_config",
    "load_flow",
]

#: Where the flows shipped with GovHub live (Weihai's construction-permit flow).
BUILTIN_DIR = Path(__file__).with_name("definitions")
#: The message a reviewing department's system receives.
REVIEW_TYPE = "flow.review_requested"
STARTS = ("acceptance", "auto")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True, slots=True)
class Department:
    """A department taking part in a flow: its key in the file, name, code and system.

    Attributes:
        client: The API client that alone may speak for it (its acceptances, opinions,
            supplied materials); ``None``: any client allowed to send ``flow.*``.
    """

    key: str
    name: str
    code: str
    destination: str
    client: str | None = None


@dataclass(frozen=True, slots=True)
class Material:
    """A material a module needs; ``type_code`` marks one the e-license library may hold."""

    code: str
    name: str
    type_code: str | None = None


@dataclass(frozen=True, slots=True)
class Licence:
    """An approval document a module issues (and later modules reuse)."""

    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Module:
    """One module of a flow."""

    id: str
    name: str
    lead: str
    reviewers: tuple[str, ...]
    limit_days: int
    start: str
    after: tuple[str, ...]
    materials: tuple[Material, ...]
    licences: tuple[Licence, ...]


@dataclass(frozen=True, slots=True)
class Flow:
    """A checked flow definition."""

    id: str
    name: str
    file: str
    departments: Mapping[str, Department]
    modules: tuple[Module, ...]
    licence_destination: str | None = None
    item_code: str | None = None

    def module(self, module_id: str) -> Module | None:
        """The module ``module_id``, or ``None``."""
        return next((m for m in self.modules if m.id == module_id), None)

    def department_by_code(self, code: str) -> Department | None:
        """The department with the unified social credit code ``code``, or ``None``."""
        return next((d for d in self.departments.values() if d.code == code), None)

    def provider_of(self, material_code: str) -> Module | None:
        """The module whose licences include ``material_code``, or ``None``."""
        return next(
            (m for m in self.modules if any(lic.code == material_code for lic in m.licences)),
            None,
        )

    @property
    def limit_days(self) -> int:
        """Working days along the longest chain of modules (28 for Weihai)."""
        total: dict[str, int] = {}
        for module in self.modules:  # modules only follow earlier ones
            total[module.id] = module.limit_days + max((total[a] for a in module.after), default=0)
        return max(total.values(), default=0)


def flows_from_config(config: Config, destinations: Mapping[str, Any]) -> dict[str, Flow]:
    """The flows ``[flows] dir`` names, checked against the configured destinations.

    Args:
        config: The hub's configuration.
        destinations: The configured destinations' adapters, by name (an adapter that
            declares what it accepts must take :data:`REVIEW_TYPE`).

    Raises:
        ConfigError: ``[flows]`` or a flow file is wrong; the message names file and key.
    """
    file = config.file
    section = config.table("flows", ("dir",))
    if "dir" not in section:
        return {}
    raw = section["dir"]
    if not isinstance(raw, str) or not raw:
        raise ConfigError(file, "flows.dir", "must be the path of a folder of flow files")
    folder = Path(raw)
    if not folder.is_absolute() and config.path is not None:
        folder = Path(config.path).parent / folder
    if not folder.is_dir():
        raise ConfigError(file, "flows.dir", f"{folder} is not a folder")
    flows: dict[str, Flow] = {}
    for path in sorted(folder.glob("*.toml")):
        flow = load_flow(path, destinations)
        if flow.id in flows:
            raise ConfigError(path, "id", f"{flow.id!r} is also the id of {flows[flow.id].file}")
        flows[flow.id] = flow
    return flows


def load_flow(path: Path, destinations: Mapping[str, Any]) -> Flow:
    """Read and check one flow file.

    Raises:
        ConfigError: The file is unreadable or wrong; the message names file and key.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(path, "", f"cannot be read as TOML: {error}") from None
    return _Checker(str(path), destinations).flow(document)


class _Checker:
    def __init__(self, file: str, destinations: Mapping[str, Any]) -> None:
        self.file = file
        self.destinations = destinations

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.file, key, reason)

    def flow(self, document: Mapping[str, Any]) -> Flow:
        self.known(
            document,
            "",
            ("id", "name", "item_code", "licence_destination", "departments", "modules"),
        )
        flow_id = self.ident(document, "id", "")
        name = self.text(document, "name", "")
        licence_destination = document.get("licence_destination")
        if licence_destination is not None:
            self.destination(licence_destination, "licence_destination", "license.issued")
        departments = self.departments(document.get("departments"))
        raw_modules = document.get("modules")
        if not isinstance(raw_modules, list) or not raw_modules:
            raise self.fail("modules", "must be a non-empty list of [[modules]] tables")
        modules: list[Module] = []
        for index, raw in enumerate(raw_modules):
            modules.append(self.module(raw, f"modules[{index}]", departments, modules))
        return Flow(
            id=flow_id,
            name=name,
            file=self.file,
            departments=departments,
            modules=tuple(modules),
            licence_destination=licence_destination,
            item_code=self.item_code(document),
        )

    def item_code(self, document: Mapping[str, Any]) -> str | None:
        code = self.optional_text(document, "item_code", "")
        if code is not None and not re.match(r"^[0-9A-Za-z-]{1,64}$", code):
            raise self.fail("item_code", "must be a service item code (letters, digits, -)")
        return code

    def departments(self, raw: Any) -> dict[str, Department]:
        if not isinstance(raw, Mapping) or not raw:
            raise self.fail("departments", "must be a table of [departments.<key>] tables")
        found: dict[str, Department] = {}
        codes: dict[str, str] = {}
        for key, table in raw.items():
            where = f"departments.{key}"
            if not _ID.match(key):
                raise self.fail(where, "must be a lower-case key (a-z, 0-9, _)")
            if not isinstance(table, Mapping):
                raise self.fail(where, "must be a table")
            self.known(table, where, ("name", "code", "destination", "client"))
            code = self.text(table, "code", where)
            try:
                check_uscc(code)
            except IdentifierError as error:
                raise self.fail(f"{where}.code", str(error)) from None
            if code in codes:
                raise self.fail(f"{where}.code", f"is also the code of departments.{codes[code]}")
            codes[code] = key
            destination = self.text(table, "destination", where)
            self.destination(destination, f"{where}.destination", REVIEW_TYPE)
            found[key] = Department(
                key,
                self.text(table, "name", where),
                code,
                destination,
                self.optional_text(table, "client", where),
            )
        return found

    def module(
        self,
        raw: Any,
        where: str,
        departments: Mapping[str, Department],
        earlier: Sequence[Module],
    ) -> Module:
        if not isinstance(raw, Mapping):
            raise self.fail(where, "must be a table")
        self.known(
            raw,
            where,
            (
                "id",
                "name",
                "lead",
                "reviewers",
                "limit_days",
                "start",
                "after",
                "materials",
                "licences",
            ),
        )
        module_id = self.ident(raw, "id", where)
        if any(m.id == module_id for m in earlier):
            raise self.fail(f"{where}.id", f"{module_id!r} is the id of an earlier module")
        lead = self.text(raw, "lead", where)
        if lead not in departments:
            raise self.fail(f"{where}.lead", f"{lead!r} is not one of the [departments]")
        reviewers = self.keys(raw.get("reviewers"), f"{where}.reviewers", departments)
        if not reviewers:
            raise self.fail(f"{where}.reviewers", "must name at least one department")
        limit = raw.get("limit_days")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 365:
            raise self.fail(f"{where}.limit_days", "must be a whole number of working days, 1-365")
        start = raw.get("start", "acceptance")
        if start not in STARTS:
            raise self.fail(f"{where}.start", f"must be one of {', '.join(STARTS)}")
        default_after = [earlier[-1].id] if earlier else []
        after_raw = raw.get("after", default_after)
        if not isinstance(after_raw, list) or not all(isinstance(a, str) for a in after_raw):
            raise self.fail(f"{where}.after", "must be a list of module ids")
        for name in after_raw:
            if not any(m.id == name for m in earlier):
                raise self.fail(f"{where}.after", f"{name!r} is not the id of an earlier module")
        if start == "auto" and not after_raw:
            raise self.fail(f"{where}.start", '"auto" needs modules to follow (after)')
        materials = tuple(
            Material(
                code=self.ident(item, "code", f"{where}.materials[{i}]"),
                name=self.text(item, "name", f"{where}.materials[{i}]"),
                type_code=self.optional_text(item, "type_code", f"{where}.materials[{i}]"),
            )
            for i, item in enumerate(self.tables(raw.get("materials", []), f"{where}.materials"))
            if self.known(item, f"{where}.materials[{i}]", ("code", "name", "type_code"))
        )
        licences = tuple(
            Licence(
                code=self.ident(item, "code", f"{where}.licences[{i}]"),
                name=self.text(item, "name", f"{where}.licences[{i}]"),
            )
            for i, item in enumerate(self.tables(raw.get("licences", []), f"{where}.licences"))
            if self.known(item, f"{where}.licences[{i}]", ("code", "name"))
        )
        return Module(
            id=module_id,
            name=self.text(raw, "name", where),
            lead=lead,
            reviewers=reviewers,
            limit_days=limit,
            start=start,
            after=tuple(after_raw),
            materials=materials,
            licences=licences,
        )

    def destination(self, name: Any, key: str, message_type: str) -> None:
        if not isinstance(name, str) or not name:
            raise self.fail(key, "must name a destination")
        adapter = self.destinations.get(name)
        if adapter is None:
            known = ", ".join(sorted(self.destinations)) or "none"
            raise self.fail(
                key, f"{name!r} is not a configured destination ([[destinations]]: {known})"
            )
        takes = getattr(adapter, "takes", None)
        if callable(takes) and not takes(message_type):
            raise self.fail(key, f"destination {name!r} does not accept {message_type}")

    def known(self, table: Mapping[str, Any], where: str, fields: Sequence[str]) -> bool:
        for key in table:
            if key not in fields:
                path = f"{where}.{key}" if where else key
                raise self.fail(path, f"is not a known field ({', '.join(fields)})")
        return True

    def tables(self, raw: Any, where: str) -> list[Mapping[str, Any]]:
        if not isinstance(raw, list) or not all(isinstance(item, Mapping) for item in raw):
            raise self.fail(where, "must be a list of tables")
        return raw

    def keys(self, raw: Any, where: str, departments: Mapping[str, Department]) -> tuple[str, ...]:
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise self.fail(where, "must be a list of department keys")
        for item in raw:
            if item not in departments:
                raise self.fail(where, f"{item!r} is not one of the [departments]")
        if len(set(raw)) != len(raw):
            raise self.fail(where, "names a department twice")
        return tuple(raw)

    def ident(self, table: Mapping[str, Any], key: str, where: str) -> str:
        value = self.text(table, key, where)
        if not _ID.match(value):
            raise self.fail(_join(where, key), "must be a lower-case id (a-z, 0-9, _)")
        return value

    def text(self, table: Mapping[str, Any], key: str, where: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(_join(where, key), "is required (a non-empty string)")
        return value

    def optional_text(self, table: Mapping[str, Any], key: str, where: str) -> str | None:
        return self.text(table, key, where) if key in table else None


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
