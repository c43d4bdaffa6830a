"""Records that could never be stored are dead letters at parse time, never a batch that fails forever."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.alert_ingest.domain.formats import BadInput, parse

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def test_nul_character_is_bad_input():
    raw = b'{"status":"firing","summary":"Talk down","product":"Talk","fingerprint":"x","labels":{"x":"a\\u0000b"}}'
    with pytest.raises(BadInput, match="NUL") as err:
        parse(raw, received_at=NOW, product_map={})
    assert err.value.error_class == "schema_violation"


def test_details_nested_deeper_than_json_writers_allow_keep_the_alert():
    raw = (b'{"routing_key":"k","event_action":"trigger","dedup_key":"d-' + uuid.uuid4().hex.encode()
           + b'","payload":{"summary":"s","source":"s","severity":"error","custom_details":{"x":'
           + b'{"a":' * 300 + b"1" + b"}" * 300 + b"}}}")
    _, [obs] = parse(raw, received_at=NOW, product_map={})
    assert obs.alert.annotations["x"] == "[value nested too deeply to show]"


@pytest.mark.parametrize("depth", [900, 5000])
def test_absurd_nesting_is_bad_input(depth):
    raw = b'{"status":"firing","summary":"s","labels":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    with pytest.raises(BadInput):
        parse(raw, received_at=NOW, product_map={})
