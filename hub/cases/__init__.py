"""Case clocks and electronic supervision (限时办结, 电子监察).

Every case gets a record built from the events that flow through the hub
(:mod:`hub.cases.clock`), kept and evaluated by :class:`~hub.cases.service.CaseClocks`;
``[supervision]`` is read by :mod:`hub.cases.settings`; the supervision office's monthly
report is :mod:`hub.cases.report`.
"""

from __future__ import annotations

from hub.cases.clock import CaseFacts, Reading, Stop, fold, read_clock
from hub.cases.service import CaseClocks, CaseView, Evaluation, Notify
from hub.cases.settings import SupervisionSettings, supervision_settings

__all__ = [
    "CaseClocks",
    "CaseFacts",
    "CaseView",
    "Evaluation",
    "Notify",
    "Reading",
    "Stop",
    "SupervisionSettings",
    "fold",
    "read_clock",
    "supervision_settings",
]
