"""Dead-letter rows keep the original bytes, and their headers always fit in jsonb."""

from __future__ import annotations

import orjson

from shared.dead_letter import DeadLetter, outbox_rows


def test_dead_letter_row_keeps_bytes_and_survives_nul_and_invalid_utf8_headers():
    letter = DeadLetter("alerts.raw", 3, 42, b"k", b"\xff\x00raw", "NotJson", "not JSON")
    [(topic, key, value, headers)] = outbox_rows([letter], service="test")
    assert (topic, key, value) == ("alerts.raw.DLT", b"k", b"\xff\x00raw")
    parsed = dict(orjson.loads(headers))
    assert parsed["dlt-original-offset"] == "42" and parsed["dlt-error-class"] == "NotJson"
    assert "\\u0000" not in headers

    from shared.outbox import raw_row

    _, _, _, hdrs = raw_row("x.DLT", None, b"v", [("trace", b"a\x00b"), ("bin", b"\xff")])
    assert "\\u0000" not in hdrs and dict(orjson.loads(hdrs)) == {"trace": "a\ufffdb", "bin": "\ufffd"}
