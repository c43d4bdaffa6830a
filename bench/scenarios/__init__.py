"""The benchmark's scenarios (issue 8), each `async def run(ctx) -> dict`; NotRun says why one was skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import Config


class NotRun(Exception):
    """A scenario that cannot run here (a service not built yet, a tool missing): the reason is reported."""


@dataclass
class Ctx:
    """What scenarios share within one run: sizes, the run id, the baseline's figures, the results so far."""

    cfg: Config
    run_id: str
    baseline: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
