"""Periodic status updates: when the next one is due. Pure (time is passed in)."""

from __future__ import annotations

from datetime import datetime, timedelta


def cadence_for(severity: str | None, cadences: dict[str, float | None]) -> float | None:
    """Seconds between periodic updates for a severity; None: no periodic updates."""
    if severity is None:
        return None
    value = cadences.get(severity)
    return value if value and value > 0 else None


def next_due(last_broadcast_at: datetime, cadence_s: float, now: datetime) -> datetime:
    """The next periodic update: one cadence after the last broadcast, never in the past.

    After downtime longer than a cadence one catch-up update is due at once, not one per missed period.
    """
    return max(last_broadcast_at + timedelta(seconds=cadence_s), now)
