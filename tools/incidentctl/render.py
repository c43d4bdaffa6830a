"""Readable renderings of incidents, timelines and live events."""

from __future__ import annotations

from typing import Any

SHORT_TYPES = {
    "incident.opened": "OPENED", "incident.alert_attached": "ALERT", "incident.severity_changed": "SEVERITY",
    "incident.status_changed": "STATUS", "incident.status_update_posted": "UPDATE", "incident.merged": "MERGED",
    "incident.resolved": "RESOLVED", "incident.ticket_linked": "LINKED", "incident.ticket_unlinked": "UNLINKED",
}


def event_line(event: dict[str, Any]) -> str:
    """One line for a CloudEvents envelope from incidents.updates."""
    t = event.get("type", "").removeprefix("io.incident-pipeline.").rsplit(".", 1)[0]
    d = event.get("data", {})
    when = str(event.get("time", ""))[11:19]
    inc = d.get("incident_id", "?")
    label = SHORT_TYPES.get(t, t)
    detail = {
        "OPENED": lambda: f"{d.get('severity')} {d.get('product')} {d.get('title')!r} (from {d.get('opened_from')})",
        "ALERT": lambda: f"{d.get('signal')} {d.get('summary', '')}",
        "SEVERITY": lambda: f"{d.get('previous')} -> {d.get('severity')}",
        "STATUS": lambda: f"{d.get('previous')} -> {d.get('status')}",
        "UPDATE": lambda: f"[{d.get('status')}] {d.get('message')}",
        "MERGED": lambda: f"into {d.get('into_incident_id')} ({len(d.get('ticket_ids', []))} tickets)",
        "RESOLVED": lambda: d.get("message", ""),
        "LINKED": lambda: f"ticket {d.get('ticket', {}).get('ticket_id')} ({d.get('link_reason')})",
        "UNLINKED": lambda: f"ticket {d.get('ticket_id')} {d.get('reason', '')}",
    }.get(label, lambda: "")()
    return f"{when}  {inc:<18} {label:<9} {detail}"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    head = "  ".join(c.upper().ljust(widths[c]) for c in columns)
    body = ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join([head, *body])
