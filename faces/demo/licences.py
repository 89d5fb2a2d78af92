"""Approval documents a sandbox department issues in the construction demo (and its tests)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from stdnum.iso7064 import mod_37_36

from hub.flows import Flow

__all__ = ["approval_documents", "licence_id"]

APPLICANT = {"name": "威海海之味食品有限公司", "code": "91371002MA3C00001M", "code_type": "001"}


def licence_id(type_code: str, issuer: str, serial: str, version: str = "001") -> str:
    """An e-license identifier with its ISO/IEC 7064 MOD 37,36 check character."""
    check = mod_37_36.calc_check_digit(type_code + issuer + serial + version)
    return f"1.2.156.3005.2.{type_code}.{issuer}.{serial}.{version}.{check}"


def approval_documents(
    flow: Flow, module_id: str, project_no: str, day: dt.date, *, number: int = 1
) -> list[dict[str, Any]]:
    """The ``licences`` of a lead's approval: each licence the module issues, as issued.

    Args:
        flow: The flow.
        module_id: The module approved.
        project_no: The project.
        day: The day of issue.
        number: A project's serial (distinct projects get distinct licences).
    """
    module = flow.module(module_id)
    assert module is not None
    issuer = flow.departments[module.lead]
    documents = []
    for index, licence in enumerate(module.licences):
        kind = flow.modules.index(module) * 10 + index + 101
        type_code = f"{issuer.code}{kind:03d}"
        serial = f"37100{day.year}{number:05d}{kind:03d}"
        digest = hashlib.sha256(f"{project_no}/{licence.code}".encode()).hexdigest()
        documents.append(
            {
                "material": licence.code,
                "licence": {
                    "license_id": licence_id(type_code, issuer.code, serial),
                    "name": licence.name,
                    "type_code": type_code,
                    "number": f"{project_no}-{licence.code}",
                    "issuer": {"name": issuer.name, "code": issuer.code},
                    "issued_on": day.isoformat(),
                    "holder": APPLICANT,
                    "valid_from": day.isoformat(),
                    "valid_until": "长期",
                    "area_code": "371002",
                    "surface": {"项目编号": project_no, "证照": licence.name},
                    "file": {
                        "media_type": "application/ofd",
                        "sha256": digest,
                        "url": f"https://files.weihai.example.gov.cn/{project_no}/{licence.code}.ofd",
                        "size_bytes": 40960,
                    },
                },
            }
        )
    return documents
