"""Bad input for every input path, generated with hypothesis: random bytes, invalid UTF-8, deep nesting, huge
strings, wrong types, missing fields, near/over the size limit, duplicated keys, truncation, and (for the
pipeline's own topics) well-formed events that name things nobody knows.

Hypothesis is used as a generator here (`generate`): the inputs are produced to Kafka or posted over HTTP in
bulk afterwards, because one broker round trip per example would be far too slow for 100,000 inputs.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tools.demo import am_payload, zendesk_ticket

def _dumps(doc: Any) -> bytes:
    """JSON bytes of anything generated (big integers, infinities: the stdlib writes them, as some tools do)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                      st.text(max_size=40))
JSON = st.recursive(JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                    max_leaves=12)


def seeds_alerts_raw() -> list[dict[str, Any]]:
    return [
        {"status": "firing", "summary": "Talk latency high", "product": "Talk", "signal": "latency",
         "severity": "warning", "fingerprint": "fz-seed", "labels": {"a": "b"}},
        am_payload("firing", "HighErrorRate", "chat-api", "critical", "Chat API 5xx", "fz-seed-am"),
        {"routing_key": "chaos-routing-key-0123456789", "event_action": "trigger", "dedup_key": "fz-seed-pd",
         "payload": {"summary": "Guide 503s", "source": "guide-web", "severity": "error"}},
    ]


def seeds_tickets_new() -> list[dict[str, Any]]:
    return [zendesk_ticket(123456, "Chat widget not loading", "errors", 42, tags=["chat"]),
            {"ticket_id": "fz-seed", "subject": "Help center down", "description": "503",
             "created_at": "2026-12-03T09:00:00Z", "requester": "someone@example.com"}]


def seeds_events() -> dict[str, list[dict[str, Any]]]:
    """One example event of every type, per internal topic (the generated event reference's examples)."""
    from tools.events_doc import TOPICS
    from shared.contracts import make_event

    out: dict[str, list[dict[str, Any]]] = {}
    for topic, _prod, _cons, _key, examples in TOPICS:
        out[topic] = [orjson.loads(_dumps(make_event(e, source="/fuzz").model_dump(mode="json")))
                      for e in examples]
    return out


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple, value: Any, delete: bool = False) -> None:
    for p in path[:-1]:
        doc = doc[p]
    if delete:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


def _fresh(doc: Any) -> Any:
    """A fresh event id (so a consumer does not drop it as already seen) and a fresh incident id."""
    d = copy.deepcopy(doc)
    if isinstance(d, dict) and "specversion" in d:
        d["id"] = str(uuid.uuid4())
        data = d.get("data")
        if isinstance(data, dict) and "incident_id" in data:
            data["incident_id"] = f"INC-{uuid.uuid4().hex[:12]}"
    return d


@st.composite
def mutated(draw: st.DrawFn, seeds: list[dict[str, Any]], *, limit: int, allow_nul: bool = True) -> bytes:
    """One bad (or oddly valid) input derived from a seed."""
    seed = _fresh(draw(st.sampled_from(seeds)))
    kind = draw(st.sampled_from(["drop", "retype", "retype", "huge", "nest", "utf8", "dupkey", "bytes",
                                 "truncate", "unknown_ref", "empty", "top"]))
    if draw(st.integers(0, 399)) == 0:  # rare: each is a megabyte on the wire
        kind = draw(st.sampled_from(["near_limit", "over_limit"]))
    paths = _paths(seed)
    if kind == "drop" and paths:
        _set(seed, draw(st.sampled_from(paths)), None, delete=True)
    elif kind == "retype" and paths:
        _set(seed, draw(st.sampled_from(paths)), draw(JSON))
    elif kind == "huge" and paths:
        _set(seed, draw(st.sampled_from(paths)), "x" * draw(st.integers(2_000, 60_000)))
    elif kind == "nest":
        depth = draw(st.integers(50, 3000))
        nested = draw(st.sampled_from([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth]))
        if not paths:
            return nested
        _set(seed, draw(st.sampled_from(paths)), "__NEST__")
        return _dumps(seed).replace(b'"__NEST__"', nested, 1)
    elif kind == "utf8":
        raw = _dumps(seed)
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]))
        return raw[:at] + bad + raw[at:]
    elif kind == "dupkey" and isinstance(seed, dict) and seed:
        key = draw(st.sampled_from(list(seed)))
        return _dumps(seed)[:-1] + b"," + _dumps(key) + b":" + _dumps(draw(JSON)) + b"}"
    elif kind == "bytes":
        return draw(st.binary(max_size=300))
    elif kind == "truncate":
        raw = _dumps(seed)
        return raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    elif kind == "empty":
        return draw(st.sampled_from([b"", b"null", b"{}", b"[]", b"0", b'""', b"true"]))
    elif kind == "top":
        return _dumps(draw(JSON))
    elif kind == "near_limit" and paths:
        _set(seed, draw(st.sampled_from(paths)), "")
        base = len(_dumps(seed))
        _set(seed, paths[0], "y" * max(0, limit - base - draw(st.integers(1, 64))))
    elif kind == "over_limit" and paths:
        _set(seed, paths[0], "z" * (limit + draw(st.integers(1, 4096))))
    if allow_nul and draw(st.integers(0, 9)) == 0 and (leaves := _paths(seed)):
        try:
            _set(seed, draw(st.sampled_from(leaves)), "nul\u0000here")  # U+0000: PostgreSQL stores it nowhere
        except (KeyError, IndexError, TypeError):
            pass
    return _dumps(seed)


def generate(strategy: st.SearchStrategy[bytes], n: int, *, seed: int = 0) -> list[bytes]:
    """Draw `n` examples from `strategy` (hypothesis as a generator; no shrinking, no example database)."""
    out: list[bytes] = []

    @settings(max_examples=n, database=None, phases=[Phase.generate], derandomize=False, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(x: bytes) -> None:
        out.append(x)

    collect()
    # hypothesis stops early when it thinks it has explored enough; top up with more runs
    tries = 0
    while len(out) < n and tries < 50:
        collect()
        tries += 1
    return out[:n]


def classify(validator: Callable[[bytes], Any], value: bytes) -> str | None:
    """None when the service's own parser accepts `value`, else the exception class it raises."""
    try:
        validator(value)
    except Exception as exc:
        return type(exc).__name__
    return None
