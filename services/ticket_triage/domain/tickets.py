"""Parse the two input formats on tickets.new (Zendesk ticket.created event, native ticket) into one Ticket."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .policy import TriagePolicy
from .text import detect_locale, product_from_text

PRODUCTS = ("Support", "Guide", "Chat", "Talk")
ZENDESK_CREATED = "zen:event-type:ticket.created"
PRIORITIES = ("low", "normal", "high", "urgent")


class TicketFormatError(ValueError):
    """The payload is neither a valid Zendesk ticket.created event nor a native ticket."""


@dataclass(frozen=True)
class Ticket:
    """One customer ticket, normalised."""

    ticket_id: str
    source: str
    subject: str
    description: str
    created_at: datetime
    organization_id: str | None = None
    requester_id: str | None = None
    product: str | None = None
    product_from: str = "unknown"
    priority: str | None = None
    locale: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.description}"

    @property
    def org_key(self) -> str:
        """Who reported it, for counting distinct organisations (requester when no organisation)."""
        return self.organization_id or f"requester:{self.requester_id or self.ticket_id}"


class NativeTicket(BaseModel):
    """The native ticket JSON accepted on tickets.new (see docs/ticket-triage.md)."""

    model_config = ConfigDict(extra="ignore")
    ticket_id: str = Field(min_length=1, max_length=128)
    subject: str = Field(max_length=1024)
    description: str = Field("", max_length=65536)
    requester: str | None = None
    organization: str | None = None
    product: str | None = None
    priority: str | None = None
    tags: list[str] = Field(default_factory=list)
    locale: str | None = None
    created_at: datetime
    source: str = "native"


def _s(v: Any) -> str | None:
    return None if v is None or v == "" else str(v)


def _priority(v: Any) -> str | None:
    p = (_s(v) or "").lower()
    return p if p in PRIORITIES else None


def _product_name(v: str | None) -> str | None:
    if not v:
        return None
    for p in PRODUCTS:
        if v.strip().lower() in (p.lower(), f"product_{p.lower()}", f"zendesk {p.lower()}"):
            return p
    return None


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def resolve_product(policy: TriagePolicy, *, brand: str | None, form: str | None, tags: list[str],
                    field_value: str | None, declared: str | None, text: str) -> tuple[str | None, str]:
    """Product from the fields first (declared, custom field, form, brand, tags), then from the text."""
    candidates = [("field", _product_name(declared) or _product_name(field_value)),
                  ("form", policy.form_products.get(form or "")),
                  ("brand", policy.brand_products.get(brand or ""))]
    candidates += [("tag", policy.tag_products.get(t.lower())) for t in tags]
    for origin, product in candidates:
        if product:
            return product, origin
    found = product_from_text(text)
    return (found, "text") if found else (None, "unknown")


def _zendesk(doc: dict[str, Any], policy: TriagePolicy) -> Ticket:
    d = doc.get("detail")
    if not isinstance(d, dict) or not _s(d.get("id")):
        raise TicketFormatError("zendesk event without detail.id")
    tags = [str(t) for t in d.get("tags") or []]
    fields = {str(f.get("id")): _s(f.get("value")) for f in d.get("custom_fields") or [] if isinstance(f, dict)}
    subject, description = str(d.get("subject") or ""), str(d.get("description") or "")
    created = d.get("created_at") or doc.get("time")
    try:
        created_at = _aware(datetime.fromisoformat(str(created).replace("Z", "+00:00")))
    except ValueError as exc:
        raise TicketFormatError(f"bad created_at {created!r}") from exc
    product, origin = resolve_product(
        policy, brand=_s(d.get("brand_id")), form=_s(d.get("form_id")), tags=tags,
        field_value=fields.get(policy.product_field_id or ""), declared=None, text=f"{subject}\n{description}")
    return Ticket(ticket_id=str(d["id"]), source="zendesk", subject=subject[:1024], description=description,
                  created_at=created_at, organization_id=_s(d.get("organization_id")),
                  requester_id=_s(d.get("requester_id")), product=product, product_from=origin,
                  priority=_priority(d.get("priority")), locale=detect_locale(f"{subject} {description}"),
                  tags=tuple(tags))


def _native(doc: dict[str, Any], policy: TriagePolicy) -> Ticket:
    try:
        n = NativeTicket.model_validate(doc)
    except ValidationError as exc:
        raise TicketFormatError(f"invalid native ticket: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}") from exc
    product, origin = resolve_product(policy, brand=None, form=None, tags=n.tags, field_value=None,
                                      declared=n.product, text=f"{n.subject}\n{n.description}")
    return Ticket(ticket_id=n.ticket_id, source=n.source, subject=n.subject, description=n.description,
                  created_at=_aware(n.created_at), organization_id=n.organization, requester_id=n.requester,
                  product=product, product_from=origin, priority=_priority(n.priority),
                  locale=(n.locale or detect_locale(f"{n.subject} {n.description}"))[:2].lower(),
                  tags=tuple(n.tags))


def parse_raw(raw: bytes | None, policy: TriagePolicy) -> Ticket:
    """A Ticket from a record's bytes; TicketFormatError (or orjson's JSONDecodeError) for what never will be."""
    if not raw:
        raise TicketFormatError("empty record (no value)")
    if b"\\u0000" in raw:  # PostgreSQL text refuses U+0000: reject it here, not in the batch's transaction
        raise TicketFormatError("ticket contains a NUL character (U+0000)")
    try:
        doc = orjson.loads(raw)
        return parse_ticket(doc, policy)
    except (orjson.JSONDecodeError, TicketFormatError):
        raise
    except RecursionError:
        raise TicketFormatError("payload is nested too deeply") from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a field of an unexpected shape
        raise TicketFormatError(f"invalid ticket: {type(exc).__name__}: {exc}") from None


def parse_ticket(doc: Any, policy: TriagePolicy) -> Ticket:
    """A Ticket from a decoded JSON document; raises TicketFormatError on anything else."""
    if not isinstance(doc, dict):
        raise TicketFormatError("ticket payload is not a JSON object")
    kind = doc.get("type")
    if kind is not None:
        if str(kind).lower() != ZENDESK_CREATED:
            raise TicketFormatError(f"unsupported event type {kind!r}")
        return _zendesk(doc, policy)
    if "ticket_id" in doc:
        return _native(doc, policy)
    raise TicketFormatError("neither a Zendesk ticket.created event nor a native ticket (no type, no ticket_id)")
