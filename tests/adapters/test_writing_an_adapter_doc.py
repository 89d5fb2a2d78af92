"""docs/writing-an-adapter.md says what the code does: its examples run and fit."""

from __future__ import annotations

import re
import types
from pathlib import Path

from jsonschema import Draft202012Validator

from adapters.credit_platform.adapter import CreditPlatform
from adapters.credit_platform.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET
from adapters.sdk.testing import AdapterContract

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-an-adapter.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _block(containing: str) -> str:
    [block] = [b for b in BLOCKS if containing in b]
    return block


def test_the_contract_example_gives_settings_the_credit_platform_takes() -> None:
    namespace: dict[str, object] = {}
    source = "from typing import Any\n" + _block("class TestCreditPlatform(AdapterContract)")
    exec(compile(source, str(DOC), "exec"), namespace)  # noqa: S102 - our own document
    contract = namespace["TestCreditPlatform"]
    assert isinstance(contract, type)
    assert issubclass(contract, AdapterContract)
    settings = contract().settings("http://127.0.0.1:9")
    assert settings["app_key"] == DEFAULT_APP_KEY
    assert settings["app_secret"] == DEFAULT_APP_SECRET
    errors = list(Draft202012Validator(CreditPlatform.settings_schema).iter_errors(settings))
    assert errors == []


def test_the_doc_says_inapplicable_checks_are_left_out_not_skipped() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "left out" in text
    assert not re.search(r"\bskip(s|ped)? with\b", text)


def test_the_sandbox_skeleton_runs_with_the_sandbox_controls() -> None:
    module = types.ModuleType("records_sandbox")
    exec(compile(_block("SANDBOX = SandboxInfo("), str(DOC), "exec"), module.__dict__)  # noqa: S102
    client = module.create_app().test_client()
    key = module.DEFAULT_API_KEY
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "d-1"}
    assert client.post("/api/records", json={"a": 1}, headers=headers).status_code == 200
    again = client.post("/api/records", json={"a": 1}, headers=headers)
    assert again.get_json() == {"accepted": True, "duplicate": True}
    assert client.get("/_sandbox/effects").get_json()["effects"] == [
        {"kind": "record", "key": "d-1"}
    ]
    assert client.post("/api/records", json={}, headers={"Idempotency-Key": "x"}).status_code == 401
    client.post("/_sandbox/faults", json={"down": True})
    assert client.post("/api/records", json={"a": 1}, headers=headers).status_code == 503
    client.post("/_sandbox/reset", json={})
    assert client.get("/_sandbox/effects").get_json()["effects"] == []
    assert module.SANDBOX.create_app is module.create_app
