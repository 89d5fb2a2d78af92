"""The files of an adapter package generated from a WSDL, rendered from the templates.

:func:`render_package` turns a :class:`~faces.devkit.wsdl_model.WsdlModel` into the
package's files (path → content) without writing anything: the templates in
``wsdl_templates/`` filled with the operations' types, methods, sample answers and tests.
"""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path, PurePosixPath
from string import Template
from typing import Any
from urllib.parse import urlsplit

from adapters.sdk.settings import CONNECTION_PROPERTIES
from adapters.sdk.soap_adapter import SOAP_PROPERTIES
from faces.devkit.wsdl_codegen import TypedDicts, docstring, literal, pascal, sample
from faces.devkit.wsdl_model import OperationModel, WsdlModel
from faces.devkit.xsd_json import DIALECT

__all__ = ["render_package"]

TEMPLATES = Path(__file__).resolve().parent / "wsdl_templates"
_READ_ONLY = re.compile(
    r"^(get|list|query|find|search|count|check|ping|echo|version|status|describe|lookup|read)",
    re.IGNORECASE,
)


def _template(name: str) -> Template:
    return Template((TEMPLATES / f"{name}.tmpl").read_text(encoding="utf-8"))


def _doc(text: str) -> str:
    """Text safe inside a one-line docstring."""
    return " ".join(text.split()).replace("\\", "\\\\").replace('"""', "'''").strip() or "-"


def _imports(module: str, names: list[str]) -> str:
    names = sorted(set(names), key=lambda n: (not n.isupper(), n.lower()))
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= 100:
        return line
    return f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"


def _required(schema: dict[str, Any]) -> list[str]:
    return list(schema.get("required", ()))


def _probe(operations: tuple[OperationModel, ...]) -> tuple[OperationModel, str]:
    """The operation ``check()`` calls, and why it is that one."""
    ranked = sorted(
        operations,
        key=lambda op: (
            not _READ_ONLY.match(op.name),
            bool(_required(op.input_schema)),
            operations.index(op),
        ),
    )
    chosen = ranked[0]
    if _READ_ONLY.match(chosen.name):
        return chosen, "Its name says it only reads: it changes nothing at the counterpart."
    return (
        chosen,
        "It was the first operation: make it one that changes nothing at the counterpart.",
    )


class _Package:
    """What the templates need, gathered once."""

    def __init__(self, model: WsdlModel, name: str, auth: str) -> None:
        self.model, self.name, self.auth = model, name, auth
        self.cls = pascal(name)
        self.wsdl_file = f"{pascal(model.service)}.wsdl"
        self.types = TypedDicts(model.defs)
        self.inputs: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        for op in model.operations:
            what = _doc(op.documentation) if op.documentation else f"{op.name}."
            self.inputs[op.name] = self.types.declare(
                f"{op.name}Input", _bare(op.input_schema), f"The request of {op.name}: {what}"
            )
            self.outputs[op.name] = self.types.declare(
                f"{op.name}Output", _bare(op.output_schema), f"The answer of {op.name}: {what}"
            )
        self.title = model.service
        summary = model.documentation.split(". ")[0].rstrip(".") if model.documentation else ""
        self.summary = _doc(f"{model.service}: {summary}." if summary else f"{model.service}.")
        self.env = f"GOVHUB_{name.upper()}_{'TOKEN' if auth == 'bearer' else 'PASSWORD'}"

    def sample_input(self, op: OperationModel) -> Any:
        return sample(op.input_schema, self.model.defs)

    def has_input(self, op: OperationModel) -> bool:
        return bool(op.input_schema.get("properties"))

    def fill(self, template: str, **values: Any) -> str:
        common = {
            "name": self.name,
            "cls": self.cls,
            "title": self.title,
            "wsdl_name": _file_name(self.model.loaded.main),
            "wsdl_file": self.wsdl_file,
            "service": self.model.service,
            "port": self.model.port,
            "auth": self.auth,
        }
        return _template(template).substitute({**common, **values})


def _tuple(path: tuple[str, ...] | None) -> str:
    if path is None:
        return "None"
    inner = ", ".join(json.dumps(p) for p in path)
    return f"({inner},)" if len(path) == 1 else f"({inner})"


def _file_name(location: str) -> str:
    """``CountryInfoService.wso`` of ``http://host/CountryInfoService.wso?WSDL``."""
    return PurePosixPath(urlsplit(location).path).name or location


def _bare(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in ("$schema", "title", "$defs")}


def _adapter(package: _Package) -> str:
    ops = package.model.operations
    methods = []
    for op in ops:
        methods.append(
            package.fill(
                "method",
                method=op.method,
                parameter=f", request: {package.inputs[op.name]}" if package.has_input(op) else "",
                output=package.outputs[op.name],
                doc=docstring(op.documentation or f"Call {op.name}.", 8),
                operation=op.name,
                arguments=", **request" if package.has_input(op) else "",
                path=_tuple(op.result_path),
            )
        )
    probe, why = _probe(ops)
    if package.has_input(probe):
        arguments = literal(package.sample_input(probe), 12)
        call = f"        self.{probe.method}(\n            {arguments}\n        )"
    else:
        call = f"        self.{probe.method}()"
    auth_init = {
        "none": "",
        "wsse": "",
        "basic": (
            "        # HTTP Basic on every request, rather than a WS-Security UsernameToken.\n"
            "        self.soap.wsse = None\n"
            "        self.soap.session.auth = (\n"
            '            self.settings["username"],\n'
            '            self.settings["password"],\n'
            "        )\n"
        ),
        "bearer": (
            '        token = self.settings["token"]\n'
            '        self.soap.session.headers["Authorization"] = f"Bearer {token}"\n'
        ),
    }[package.auth]
    names = [*package.inputs.values(), *package.outputs.values()]
    used = [n for n in dict.fromkeys(names) if any(f" {n}" in m for m in methods)]
    return package.fill(
        "adapter.py",
        type_imports="\n" + _imports(f"{package.name}.types", used),
        summary=package.summary,
        auth_init=auth_init,
        probe=probe.name,
        probe_why=why,
        check_call=call,
        methods="".join(methods),
    )


def _sandbox(package: _Package) -> str:
    handlers, table = [], []
    for op in package.model.operations:
        answer = sample(op.output_schema, package.model.defs)
        handlers.append(
            package.fill(
                "handler",
                method=op.method,
                output=package.outputs[op.name],
                operation=op.name,
                sample=literal(answer, 4),
            )
        )
        table.append(f"    {json.dumps(op.name)}: {op.method},\n")
    exports = ["ENDPOINT", "HANDLERS", "SANDBOX", "WSDL_FILE", "create_app"]
    credentials, create_args, create_doc = "", "", ""
    if package.auth in ("basic", "wsse"):
        exports[:0] = ["DEFAULT_PASSWORD", "DEFAULT_USERNAME"]
        credentials = (
            '\nDEFAULT_USERNAME = "govhub"\n'
            f"#: The sandbox's password unless ${package.env} says otherwise.\n"
            f'DEFAULT_PASSWORD = "sandbox-{package.name}-password"'
            "  # noqa: S105 - a sandbox's public test value\n"
        )
        create_args = (
            "\n        username=DEFAULT_USERNAME,"
            f'\n        secret=os.environ.get("{package.env}", DEFAULT_PASSWORD),'
        )
        create_doc = (
            f"\n\n    Its password is ``${package.env}`` or :data:`DEFAULT_PASSWORD`.\n    "
        )
    elif package.auth == "bearer":
        exports[:0] = ["DEFAULT_TOKEN"]
        credentials = (
            f"\n#: The token the sandbox accepts unless ${package.env} says otherwise.\n"
            f'DEFAULT_TOKEN = "sandbox-{package.name}-token"'
            "  # noqa: S105 - a sandbox's public test value\n"
        )
        create_args = f'\n        secret=os.environ.get("{package.env}", DEFAULT_TOKEN),'
        create_doc = f"\n\n    Its token is ``${package.env}`` or :data:`DEFAULT_TOKEN`.\n    "
    text = package.fill(
        "sandbox.py",
        type_imports="\n" + _imports(f"{package.name}.types", list(package.outputs.values())),
        exports="\n" + "".join(f"    {json.dumps(e)},\n" for e in exports),
        credentials=credentials,
        handlers="".join(handlers),
        handler_table="".join(table),
        create_doc=create_doc,
        create_args=create_args,
        default_port=9800 + zlib.crc32(package.name.encode()) % 100,
    )
    return text if package.auth != "none" else text.replace("import os\n", "", 1)


def _tests(package: _Package) -> str:
    tests, used = [], []
    for op in package.model.operations:
        if package.has_input(op):
            kind = package.inputs[op.name]
            used.append(kind)
            body = (
                f"    request: {kind} = {literal(package.sample_input(op), 4)}\n"
                f'    fits("{op.name}", adapter.{op.method}(request))\n'
            )
        else:
            body = f'    fits("{op.name}", adapter.{op.method}())\n'
        tests.append(
            f"\n\ndef test_{op.method}_answers_what_its_schema_says(adapter: {package.cls})"
            f" -> None:\n{body}"
        )
    refused = next(
        (
            op
            for op in package.model.operations
            if op.input_element
            and list(op.input_schema.get("properties", {}))[:1] == _required(op.input_schema)[:1]
            and _required(op.input_schema)
        ),
        None,
    )
    if refused is not None and refused.input_element:
        namespace, _, local = refused.input_element[1:].partition("}")
        field = _required(refused.input_schema)[0]
        tests.append(package.fill("refused", local=local, namespace=namespace, field=field))
    imports = ["ENDPOINT", "create_app"]
    settings = ""
    if package.auth in ("basic", "wsse"):
        imports += ["DEFAULT_PASSWORD", "DEFAULT_USERNAME"]
        settings = '\n        "username": DEFAULT_USERNAME,\n        "password": DEFAULT_PASSWORD,'
    elif package.auth == "bearer":
        imports.append("DEFAULT_TOKEN")
        settings = '\n        "token": DEFAULT_TOKEN,'
    text = package.fill(
        "test.py",
        sandbox_imports=", ".join(sorted(imports, key=lambda n: (not n.isupper(), n))),
        settings=settings,
        tests="".join(tests),
    )
    if used:
        lines = text.split("\n")
        at = next(
            i for i, line in enumerate(lines) if line.startswith(f"from {package.name}.sandbox")
        )
        lines.insert(at + 1, _imports(f"{package.name}.types", used))
        text = "\n".join(lines)
    return text


def _settings(package: _Package) -> dict[str, Any]:
    url = {
        **CONNECTION_PROPERTIES["url"],
        "description": f"The SOAP endpoint, e.g. http://127.0.0.1:9800/soap/{package.model.service}.",
    }
    properties: dict[str, Any] = {"url": url, "wsdl": SOAP_PROPERTIES["wsdl"]}
    properties["wsdl"] = {
        **SOAP_PROPERTIES["wsdl"],
        "description": f"URL or file of the WSDL; default: the {package.wsdl_file} in the package.",
    }
    required = ["url"]
    if package.auth in ("basic", "wsse"):
        how = "HTTP Basic" if package.auth == "basic" else "WS-Security"
        properties["username"] = {"type": "string", "minLength": 1, "description": f"{how} user."}
        properties["password"] = {
            **SOAP_PROPERTIES["password"],
            "description": f"{how} password; use ${{{package.env.removeprefix('GOVHUB_')}}}.",
        }
        required += ["username", "password"]
        if package.auth == "wsse":
            properties["password_digest"] = SOAP_PROPERTIES["password_digest"]
    elif package.auth == "bearer":
        properties["token"] = {
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "description": f"The bearer token; use ${{{package.env.removeprefix('GOVHUB_')}}}.",
        }
        required.append("token")
    for key in ("timeout_s", "connect_timeout_s", "max_calls_per_s", "burst"):
        properties[key] = CONNECTION_PROPERTIES[key]
    return {
        "$schema": DIALECT,
        "title": f"{package.name} settings",
        "description": package.summary,
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def _readme(package: _Package) -> str:
    rows = "\n".join(
        f"| `{op.name}` | `{op.method}()` | {_doc(op.documentation) if op.documentation else ''} |"
        for op in package.model.operations
    )
    example = {
        "none": "",
        "basic": 'username = "..."\npassword = "${' + package.env.removeprefix("GOVHUB_") + '}"',
        "wsse": 'username = "..."\npassword = "${' + package.env.removeprefix("GOVHUB_") + '}"',
        "bearer": 'token = "${' + package.env.removeprefix("GOVHUB_") + '}"',
    }[package.auth]
    probe, _why = _probe(package.model.operations)
    return package.fill(
        "README.md",
        source=package.model.source,
        operation_rows=rows,
        settings_example=example,
        probe=probe.name,
    )


def render_package(model: WsdlModel, *, name: str, auth: str) -> dict[str, str | bytes]:
    """Every file of the package, by its path relative to the package's folder.

    Args:
        model: The WSDL as :func:`~faces.devkit.wsdl_model.describe_wsdl` read it.
        name: The adapter's name (its Python package).
        auth: ``none``, ``basic``, ``bearer`` or ``wsse``.
    """
    package = _Package(model, name, auth)
    types_text = package.types.module()
    typing_names = [
        n
        for n in ("Any", "Literal", "NotRequired", "TypedDict")
        if re.search(rf"\b{n}\b", types_text)
    ]
    declared = [a or b for a, b in re.findall(r"^class (\w+)\(|^(\w+) = ", types_text, re.M)]
    exports = "".join(f'    "{n}",\n' for n in sorted(declared, key=str.lower))
    files: dict[str, str | bytes] = {
        "pyproject.toml": package.fill(
            "pyproject.toml", distribution=f"govhub-{name.replace('_', '-')}"
        ),
        "README.md": _readme(package),
        f"{name}/__init__.py": f'"""{package.summary}"""\n',
        f"{name}/adapter.py": _adapter(package),
        f"{name}/types.py": package.fill(
            "types.py", typing_names=", ".join(typing_names), exports=exports, blocks=types_text
        )
        + "\n",
        f"{name}/sandbox.py": _sandbox(package),
        f"{name}/settings.json": json.dumps(_settings(package), indent=2, ensure_ascii=False)
        + "\n",
        f"{name}/{package.wsdl_file}": model.loaded.documents[model.loaded.main],
        f"tests/test_{name}.py": _tests(package),
    }
    for op in model.operations:
        document = json.dumps(op.to_json(), indent=2, ensure_ascii=False) + "\n"
        files[f"{name}/operations/{op.name}.json"] = document
    for relative, content in model.loaded.relative_documents().items():
        files[f"{name}/{relative}"] = content
    return files
