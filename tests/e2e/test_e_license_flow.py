"""End to end: licences posted to a running hub are archived and revoked in the library."""

from __future__ import annotations

from pathlib import Path

import requests

from adapters.e_license.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from faces.serving import serve_in_thread
from tests.support import example, hub_config, running_hub


def test_issued_then_revoked_licence_ends_revoked_in_the_library(tmp_path: Path) -> None:
    library = serve_in_thread(create_app(), "127.0.0.1", 0)
    config = hub_config(
        tmp_path,
        destinations=[
            {
                "name": "e_license",
                "adapter": "e_license",
                "url": library.url,
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                "retry": {"max_attempts": 5, "backoff_initial_s": 0.05, "backoff_max_s": 0.2},
            }
        ],
        routes=[{"name": "licences", "when": {"type": "license.*"}, "to": ["e_license"]}],
    )
    try:
        with running_hub(config) as hub:
            key = hub.client("market-supervision", allow=("license.*",))
            issued = example("license.issued")
            # The issue belongs to its case (correlated by case number); the revocation,
            # of no case, is correlated by the licence id. Both are found by the licence id.
            documents = [
                {"type": "license.issued", "payload": issued},
                {
                    "type": "license.revoked",
                    "payload": example("license.revoked"),
                    "correlation_id": issued["license_id"],
                },
            ]
            for document in documents:
                response = hub.post(key, document)
                assert response.status_code == 202, response.text
                assert hub.wait_delivered(response.json()["id"])["status"] == "delivered"
            found = hub.get(key, "/api/v1/messages", params={"key": issued["license_id"]})
            assert {m["type"] for m in found.json()["items"]} == {
                "license.issued",
                "license.revoked",
            }

            bad = example("license.issued", license_id=issued["license_id"][:-1] + "A")
            refused = hub.post(key, {"type": "license.issued", "payload": bad})
            assert refused.status_code == 422
            assert refused.json()["errors"] == [
                {
                    "path": "payload.license_id",
                    "message": "check character does not match (ISO/IEC 7064 MOD 37,36)",
                }
            ]

        [archived] = requests.get(f"{library.url}/_sandbox/licenses", timeout=5).json()["items"]
        assert archived["metadata"]["ZZBS"] == issued["license_id"]
        assert archived["metadata"]["WJ"]["SHA256"] == issued["file"]["sha256"]
        assert archived["status"] == "revoked"
    finally:
        library.stop()
