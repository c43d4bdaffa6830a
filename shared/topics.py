"""Topic names, in one place. Every name goes through `Topics` so a run can prefix them (test isolation)."""

from __future__ import annotations

from dataclasses import dataclass

ALERTS_RAW = "alerts.raw"
ALERTS_STATE = "alerts.state"
ALERTS_VALIDATED = "alerts.validated"
TICKETS_NEW = "tickets.new"
TICKETS_TRIAGED = "tickets.triaged"
INCIDENTS_UPDATES = "incidents.updates"
DLT_SUFFIX = ".DLT"

#: Every topic the pipeline uses; each has a dead-letter twin (<name>.DLT) for input its consumers reject.
ALL_TOPICS = (ALERTS_RAW, ALERTS_STATE, ALERTS_VALIDATED, TICKETS_NEW, TICKETS_TRIAGED, INCIDENTS_UPDATES)


def dlt(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return topic + DLT_SUFFIX


@dataclass(frozen=True)
class Topics:
    """Resolved topic names for one deployment (prefix '' in production)."""

    prefix: str = ""

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    @property
    def alerts_raw(self) -> str:
        return self.name(ALERTS_RAW)

    @property
    def alerts_state(self) -> str:
        return self.name(ALERTS_STATE)

    @property
    def alerts_validated(self) -> str:
        return self.name(ALERTS_VALIDATED)

    @property
    def tickets_new(self) -> str:
        return self.name(TICKETS_NEW)

    @property
    def tickets_triaged(self) -> str:
        return self.name(TICKETS_TRIAGED)

    @property
    def incidents_updates(self) -> str:
        return self.name(INCIDENTS_UPDATES)

    def group(self, name: str) -> str:
        """Consumer group id, prefixed like the topics so isolated runs never share a group."""
        return f"{self.prefix}{name}"

    def all(self) -> list[str]:
        """Every topic with its dead-letter twin."""
        names = [self.name(t) for t in ALL_TOPICS]
        return names + [dlt(n) for n in names]
