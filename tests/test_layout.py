"""The layout holds: each folder imports only what docs/architecture.md says it may.

The imports are read from the source (every one: top level, inside functions, and those
only for type checkers), so a forbidden one fails here before it tangles the house.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hub", "faces", "adapters", "jobs", "certs")
WEB_FRAMEWORKS = ("flask", "flask_babel", "flask_wtf", "werkzeug", "waitress", "click", "jinja2")
#: The engine's tables: only the store touches them.
STORE_TABLES = ("hub.store.tables", "hub.store.job_tables", "hub.store.dialects")
MAX_LINES = 600


@cache
def modules() -> dict[str, Path]:
    """Every module of the distribution, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


@cache
def imports(module: str) -> frozenset[str]:
    """The modules ``module`` imports (of the distribution and outside it)."""
    tree = ast.parse(modules()[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in modules() else node.module)
    return frozenset(found)


def within(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def offences(of: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> Iterator[str]:
    for module in sorted(m for m in modules() if within(m, of)):
        for target in sorted(imports(module)):
            if within(target, *forbidden) and not within(target, *allowed):
                yield f"{module} imports {target}"


def folder(module: str) -> str:
    return str(modules()[module].parent.relative_to(ROOT))


def test_the_leaf_imports_nothing_of_govhub() -> None:
    assert list(offences("hub.core", PACKAGES, allowed=("hub.core",))) == []


def test_the_engine_imports_no_face_job_adapter_or_web_framework() -> None:
    contract = {"adapters.sdk", "adapters.sdk.base", "adapters.sdk.errors", "adapters.sdk.lookups"}
    engine = [
        *offences("hub", ("faces", "jobs", "certs", *WEB_FRAMEWORKS)),
        # the engine knows adapters only by their contract: the SDK's base, errors and the
        # look-up protocols (identities, licences, credit) it calls on the way
        *(
            line
            for line in offences("hub", ("adapters",))
            if line.rpartition(" imports ")[2] not in contract
        ),
    ]
    assert engine == []


def test_the_sdk_imports_only_the_leaf() -> None:
    kit = "adapters.sdk.testing"  # the contract kit runs adapters in a hub: it may import it
    found = [
        line
        for line in offences("adapters.sdk", ("hub", "faces", "jobs", "certs"), ("hub.core",))
        if not line.startswith(kit + " ") and not line.endswith(" imports hub")
    ]
    assert found == []


def test_adapters_reach_the_hub_only_through_the_sdk_and_the_leaf() -> None:
    found = []
    for module in sorted(m for m in modules() if within(m, "adapters")):
        if within(module, "adapters.sdk"):
            continue
        own = ".".join(module.split(".")[:2])
        for target in imports(module):
            if within(target, "faces", "jobs") or (
                within(target, "hub") and target != "hub" and not within(target, "hub.core")
            ):
                found.append(f"{module} imports {target}")
            elif within(target, "adapters") and not within(target, own, "adapters.sdk"):
                found.append(f"{module} imports another adapter: {target}")
    assert found == []


def test_jobs_and_faces_never_import_a_concrete_adapter() -> None:
    concrete = tuple(
        m for m in modules() if m.count(".") == 1 and within(m, "adapters") and m != "adapters.sdk"
    )
    assert [
        *offences("jobs", concrete),
        *offences("faces", concrete),
        *offences("faces", ("jobs",)),
    ] == []


def test_no_module_outside_the_store_touches_its_tables() -> None:
    found = [
        line
        for package in ("hub", "faces", "adapters", "jobs")
        for line in offences(package, STORE_TABLES)
        if not line.startswith("hub.store.")
    ]
    assert found == []


def test_faces_do_not_import_each_other_both_ways() -> None:
    faces = sorted({".".join(m.split(".")[:2]) for m in modules() if m.startswith("faces.")})
    reaches = {
        face: {
            ".".join(t.split(".")[:2])
            for m in modules()
            if within(m, face)
            for t in imports(m)
            if t.startswith("faces.")
        }
        - {face}
        for face in faces
    }
    both_ways = sorted(
        f"{a} <-> {b}" for a in faces for b in reaches[a] if a < b and a in reaches.get(b, set())
    )
    assert both_ways == []


def test_no_import_cycle_spans_two_folders() -> None:
    graph = {m: {t for t in imports(m) if t in modules() and t != m} for m in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len({folder(m) for m in component}) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_over_600_lines(package: str) -> None:
    long = [
        f"{path.relative_to(ROOT)}: {count} lines"
        for name, path in modules().items()
        if within(name, package)
        and (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert long == []
