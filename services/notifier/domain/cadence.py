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


def next_update_for_new_link(next_due_at: datetime | None, cadence_s: float | None, now: datetime) -> datetime | None:
    """When a ticket linked now will hear from us next: tickets linked within half a cadence of a periodic
    update skip it (they just heard the status), so they are promised the one after."""
    if cadence_s is None:
        return None
    if next_due_at is None:
        return now + timedelta(seconds=cadence_s)
    if next_due_at - now < timedelta(seconds=cadence_s / 2):
        return next_due_at + timedelta(seconds=cadence_s)
    return next_due_at


def skips_periodic(linked_at: datetime, due_at: datetime, cadence_s: float) -> bool:
    """A ticket linked within the last half cadence before a periodic update is left out of it."""
    return linked_at > due_at - timedelta(seconds=cadence_s / 2)
