"""schemathesis, as an outside tester runs it, finds nothing the OpenAPI document does not say.

A real hub on 127.0.0.1 (with dead letters to replay and jobs to run) and ``st run`` against
its ``/api/v1/openapi.json`` with every check, in every phase (examples, coverage,
fuzzing, stateful), as three identities from a Web Fuzzing Commons auth file: two
departmental clients, whose messages schemathesis must not be able to read across
(``object_level_authorization``), and an operator for what only operators may do. The
number of examples per operation is bounded and the seed fixed, so a run takes about a
minute and is the same run every time; ``GOVHUB_SCHEMATHESIS_SEED`` picks another seed,
``GOVHUB_SCHEMATHESIS_EXAMPLES`` more examples.

``schemathesis.toml`` and ``schemathesis_hooks.py`` beside this file hold what schemathesis
is told beyond the document (the identifier formats; SOAP faults are HTTP 500).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.store import DeadLetterFilter
from tests.support import Receiver, example, hub_config, running_hub, wait_for, webhook_destination

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SEED = os.environ.get("GOVHUB_SCHEMATHESIS_SEED", "20261127")
EXAMPLES = os.environ.get("GOVHUB_SCHEMATHESIS_EXAMPLES", "25")


def _identity(name: str, key: str) -> dict[str, object]:
    return {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {key}"}]}


@pytest.mark.slow
def test_schemathesis_reports_no_failure_against_the_openapi_document(
    tmp_path: Path, receiver: Receiver
) -> None:
    # Payment messages are refused by their department: dead letters, so replay is real.
    receiver.decide = lambda envelope: (
        400 if str(envelope.get("type", "")).startswith("payment.") else None
    )
    config = hub_config(
        tmp_path,
        destinations=[webhook_destination("civil_affairs", receiver, retry={"max_attempts": 1})],
        routes=[{"name": "everything", "when": {"type": "*"}, "to": ["civil_affairs"]}],
        # schemathesis sends wrong credentials on purpose, thousands of times from one
        # address: the throttle would answer 429 where the spec says 401 (it has its own
        # tests in tests/faces/test_limits.py)
        limits={"auth_max_failures": 1_000_000},
    )
    # the file POST /api/v1/admin/reload reads again: the same routes, so that a reload
    # holds (and records nothing after the first)
    (tmp_path / "govhub.toml").write_text(
        f'[database]\nurl = "{config.database.url}"\n\n[sandbox]\nenabled = false\n\n'
        f'[[destinations]]\nname = "civil_affairs"\nadapter = "webhook"\n'
        f'url = "{receiver.url}"\nsecret = "{receiver.secret}"\n\n'
        '[[routes]]\nname = "everything"\nwhen = { type = "*" }\nto = ["civil_affairs"]\n',
        encoding="utf-8",
    )
    with running_hub(config) as hub:
        dept = hub.client("dept", allow=["*"])
        other_dept = hub.client("other_dept", allow=["*"])
        operator = hub.client("ops", allow=["*"], role="operator")
        dead = hub.post(
            dept, {"type": "payment.requested", "payload": example("payment.requested")}
        )
        assert dead.status_code == 202
        wait_for(
            lambda: hub.hub.store.deliveries.dead_letter_ids(DeadLetterFilter()),
            message="a dead letter to replay",
        )
        auth = tmp_path / "auth.json"
        auth.write_text(
            json.dumps(
                {
                    "auth": [
                        _identity("dept", dept),
                        _identity("other_dept", other_dept),
                        _identity("operator", operator),
                    ]
                }
            ),
            encoding="utf-8",
        )
        config_file = tmp_path / "schemathesis.toml"
        config_file.write_text(
            (HERE / "schemathesis.toml").read_text(encoding="utf-8")
            + f'\n[auth.wfc]\npath = "{auth}"\npeers = ["dept", "other_dept"]\n',
            encoding="utf-8",
        )
        environment = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.faces.rest.schemathesis_hooks",
            "NO_COLOR": "1",
        }
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(config_file),
                "run",
                f"{hub.url}/api/v1/openapi.json",
                "--max-examples",
                EXAMPLES,
                "--seed",
                SEED,
                "--workers",
                "1",
                "--request-timeout",
                "10",
            ],
            cwd=tmp_path,  # its example database and reports stay out of the checkout
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    report = completed.stdout + completed.stderr
    print(report)  # pytest -rP shows the whole run
    assert completed.returncode == 0, report[-20_000:]
    # Every generated case passed every check (and there were cases: all phases ran).
    summary = re.search(r"(\d+) generated, (\d+) passed", report)
    assert summary is not None, report[-5_000:]
    assert summary[1] == summary[2], summary[0]
    assert int(summary[1]) > 1000, summary[0]
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅  {phase}" in report, phase
