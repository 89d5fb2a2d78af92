"""``govhub adapter new``: every kind and auth scaffolds a package that passes its own tests."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from faces.cli import main
from faces.devkit.scaffold import AUTHS, KINDS, names_for, scaffold
from tests.faces.devkit.installing import python_path, register
from tests.ops_support import running_console, signed_in
from tests.support import hub_config

VENV_BIN = Path(sys.executable).parent
COMBINATIONS = [
    (kind, auth) for kind in KINDS for auth in AUTHS if (kind, auth) != ("rest", "wsse")
]


def _new(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["adapter", "new", *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def every_combination(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Path]]:
    """One package per kind and auth, written by the command, and a site that registers them."""
    root = tmp_path_factory.mktemp("scaffolds")
    site = root / "site"
    packages = []
    for kind, auth in COMBINATIONS:
        dest = root / f"{kind}-{auth}"
        code, output = _new(f"{kind}_{auth}", "--kind", kind, "--auth", auth, "--dest", str(dest))
        assert code == 0, output
        register(dest, site)
        packages.append(dest)
    return root, site, packages


def test_every_kind_and_auth_passes_the_contract_suite_right_after_generation(
    every_combination: tuple[Path, Path, list[Path]],
) -> None:
    root, site, packages = every_combination
    # one pytest per kind, side by side: the suite mostly waits (timeouts, slow answers)
    runs = []
    for kind in KINDS:
        report = root / f"report-{kind}.xml"
        tests = [
            str(path)
            for package in packages
            if package.name.startswith(f"{kind}-")
            for path in (package / "tests").glob("test_*.py")
        ]
        child = subprocess.Popen(
            [
                *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"),
                *("--rootdir", str(root), f"--junitxml={report}", *tests),
            ],
            cwd=root,
            env={**os.environ, "PYTHONPATH": python_path(site, packages)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        runs.append((child, report))
    ran: dict[str, int] = {}
    for child, report in runs:
        output, _ = child.communicate(timeout=240)
        assert child.returncode == 0, output[-6000:]
        for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314 - pytest's own
            assert case.find("skipped") is None, f"{case.get('name')} was skipped"
            [module] = [p for p in str(case.get("classname")).split(".") if p.startswith("test_")]
            ran[module] = ran.get(module, 0) + 1
    assert set(ran) == {f"test_{kind}_{auth}" for kind, auth in COMBINATIONS}
    # the whole suite, deliveries and error mapping included, ran for every combination
    assert min(ran.values()) >= 15, ran


def test_scaffolded_code_is_lint_and_format_clean(
    every_combination: tuple[Path, Path, list[Path]],
) -> None:
    _root, _site, packages = every_combination
    for command in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        done = subprocess.run(
            [str(VENV_BIN / "ruff"), *command, *map(str, packages)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_settings_schemas_hide_secrets_and_refuse_unknown_keys(
    every_combination: tuple[Path, Path, list[Path]],
) -> None:
    _root, _site, packages = every_combination
    for package in packages:
        names = names_for(package.name.replace("-", "_"))
        schema = json.loads((package / names.package / "settings.json").read_text("utf-8"))
        assert schema["additionalProperties"] is False
        secrets = {k for k, v in schema["properties"].items() if v.get("writeOnly")}
        auth = package.name.split("-")[1]
        assert (
            secrets
            == {
                "none": set(),
                "basic": {"password"},
                "bearer": {"token"},
                "hmac": {"app_secret"},
                "wsse": {"password"},
            }[auth]
        )


def test_an_adapter_installed_as_its_own_distribution_is_listed_and_on_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "govhub-records-office"
    scaffold("records_office", kind="rest", auth="hmac", dest=dest)
    site = tmp_path / "site"
    register(dest, site)
    listed = subprocess.run(
        [str(VENV_BIN / "govhub"), "adapters", "list", "--json"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": python_path(site, [dest])},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    [spec] = [spec for spec in json.loads(listed.stdout) if spec["name"] == "records_office"]
    assert spec["accepts"] == ["case.submitted"]
    assert spec["settings_schema"]["properties"]["app_secret"]["writeOnly"] is True

    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(dest))
    importlib.invalidate_caches()
    config = hub_config(
        tmp_path,
        destinations=[
            {
                "name": "records",
                "adapter": "records_office",
                "url": "http://127.0.0.1:9",
                "app_id": "govhub",
                "app_secret": "records-office-secret",
            }
        ],
        routes=[
            {"name": "cases to records", "when": {"type": "case.submitted"}, "to": ["records"]}
        ],
    )
    try:
        with running_console(config, "viewer") as console:
            page = signed_in(console, "viewer").get("/ops/counterparts").text
    finally:
        for module in [m for m in sys.modules if m.startswith("govhub_records_office")]:
            del sys.modules[module]
    assert "records_office" in page
    assert "records-office-secret" not in page


def test_a_rest_adapter_cannot_use_ws_security(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    code, output = _new("records", "--kind", "rest", "--auth", "wsse", "--dest", str(dest))
    assert code == 1
    assert "WS-Security" in output
    assert "--kind soap" in output
    assert not dest.exists()


@pytest.mark.parametrize("name", ["Records", "records-office", "1records", "r", "class", "x_"])
def test_a_name_that_is_not_a_lower_snake_case_identifier_is_refused(
    name: str, tmp_path: Path
) -> None:
    code, output = _new(name, "--kind", "rest", "--dest", str(tmp_path / "out"))
    assert code == 1
    assert repr(name) in output
    assert not (tmp_path / "out").exists()


def test_the_name_of_an_installed_adapter_is_refused(tmp_path: Path) -> None:
    code, output = _new("credit_platform", "--kind", "rest", "--dest", str(tmp_path / "out"))
    assert code == 1
    assert "installed already" in output
    assert not (tmp_path / "out").exists()


def test_a_folder_with_something_in_it_is_never_overwritten(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine", encoding="utf-8")
    code, output = _new("records", "--kind", "soap", "--dest", str(dest))
    assert code == 1
    assert "not empty" in output
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]


def test_the_kind_is_asked_for_and_the_auth_defaults_by_kind(tmp_path: Path) -> None:
    code, output = _new("records", "--dest", str(tmp_path / "none"))
    assert code == 1
    assert "--kind rest or --kind soap" in output
    code, output = _new("records", "--kind", "soap", "--dest", str(tmp_path / "soap"), "--json")
    assert code == 0, output
    assert json.loads(output)["auth"] == "wsse"
    code, output = _new("records", "--kind", "rest", "--dest", str(tmp_path / "rest"), "--json")
    assert json.loads(output)["auth"] == "bearer"
    assert "DEFAULT_TOKEN" in (tmp_path / "rest" / "govhub_records" / "sandbox.py").read_text()


def test_from_wsdl_generates_the_package_from_the_counterparts_wsdl(tmp_path: Path) -> None:
    wsdl = Path(__file__).resolve().parents[2] / "fixtures" / "wsdl" / "calculator.wsdl"
    dest = tmp_path / "out"
    code, output = _new("calculator", "--from-wsdl", str(wsdl), "--dest", str(dest), "--json")
    assert code == 0, output
    answer = json.loads(output)
    assert (answer["kind"], answer["auth"]) == ("soap", "wsse")
    adapter = (dest / "calculator" / "adapter.py").read_text(encoding="utf-8")
    assert "def add(" in adapter.lower()
    assert (dest / "calculator" / "operations").is_dir()
    code, output = _new("calculator", "--from-wsdl", str(wsdl), "--kind", "rest")
    assert code == 1
    assert "SOAP" in output


def test_from_wsdl_refuses_what_is_not_a_wsdl_and_writes_nothing(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.wsdl"
    bogus.write_text("<html>not a WSDL</html>", encoding="utf-8")
    dest = tmp_path / "out"
    code, output = _new("records", "--from-wsdl", str(bogus), "--dest", str(dest))
    assert code == 1
    assert "generating-from-a-wsdl" in output
    assert not dest.exists() or not any(dest.iterdir())
