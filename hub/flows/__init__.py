"""Modular approval (模块化审批): flows of modules run by a case orchestrator on the spine.

A flow definition (:mod:`hub.flows.definition`, one TOML file per flow) names modules,
each with a lead department, reviewing departments, a time limit, materials and the
licences it issues. :class:`~hub.flows.service.ApprovalFlows` folds each project's events
(:mod:`hub.flows.progress`) and publishes the joint review's requests, results and
licences; :mod:`hub.flows.readings` reads module, department and project clocks on the
case clock's rules.
"""

from __future__ import annotations

from hub.flows.definition import (
    BUILTIN_DIR,
    Department,
    Flow,
    Licence,
    Material,
    Module,
    flows_from_config,
    load_flow,
)
from hub.flows.progress import ModuleProgress, ProjectProgress, fold_project
from hub.flows.service import Advance, ApprovalFlows, LicenceLookup, Publish

__all__ = [
    "BUILTIN_DIR",
    "Advance",
    "ApprovalFlows",
    "Department",
    "Flow",
    "Licence",
    "LicenceLookup",
    "Material",
    "Module",
    "ModuleProgress",
    "ProjectProgress",
    "Publish",
    "flows_from_config",
    "fold_project",
    "load_flow",
]
