"""Raw records that can never be triaged are format errors (dead-lettered), never a stuck batch."""

import orjson
import pytest

from services.ticket_triage.domain.policy import TriagePolicy
from services.ticket_triage.domain.tickets import TicketFormatError, parse_raw


def test_records_that_can_never_be_stored_are_format_errors():
    """U+0000 (PostgreSQL text refuses it) and absurd nesting are bad input, not a batch that fails forever."""
    nul = b'{"ticket_id": "1", "subject": "Chat \\u0000 down", "created_at": "2026-03-02T10:00:00Z"}'
    deep = [b'{"type": "zen:event-type:ticket.created", "detail": {"id": "1", "subject": "s", "description": '
            + b'{"a":' * n + b"1" + b"}" * n + b"}}" for n in (900, 5000)]
    for raw in (nul, *deep, b""):
        with pytest.raises((TicketFormatError, orjson.JSONDecodeError)):
            parse_raw(raw, TriagePolicy())
