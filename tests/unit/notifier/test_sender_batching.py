"""How a claimed Zendesk batch is sent: bulk jobs for shared comments, one by one otherwise, checks first for
uncertain rows, and the rest put back when Zendesk itself fails (fake client, no I/O)."""

from __future__ import annotations

from services.notifier.domain.retry import Outcome
from services.notifier.sender import Sender
from services.notifier.settings import Settings


class FakeZendesk:
    def __init__(self, fail_single: Outcome | None = None) -> None:
        self.calls: list[tuple[str, object]] = []
        self.fail_single = fail_single

    async def bulk_comment(self, ids, body):
        self.calls.append(("bulk", len(ids)))
        return {t: Outcome(True, ref="job") for t in ids}

    async def comment(self, ticket_id, body):
        self.calls.append(("single", ticket_id))
        return self.fail_single or Outcome(True)

    async def verified_comment(self, ticket_id, body):
        self.calls.append(("verify", ticket_id))
        return Outcome(True, ref="verified")


def _row(i, body, verify=False):
    return {"id": i, "ticket_id": str(i), "body": body, "attempts": 1, "verify_first": verify}


def _sender(zendesk):
    settings = Settings(zendesk_bulk_min=5, zendesk_bulk_size=10, max_attempts=3)
    return Sender(None, settings, instance="t", zendesk=zendesk, webhooks=None)


async def test_shared_comments_go_in_bulk_jobs_and_the_rest_one_by_one():
    z = FakeZendesk()
    rows = [_row(i, "same") for i in range(25)] + [_row(100 + i, f"own {i}") for i in range(3)] + \
        [_row(200, "same", verify=True)]
    results = await _sender(z)._zendesk(rows)
    assert sorted(c for c in z.calls if c[0] == "bulk") == [("bulk", 5), ("bulk", 10), ("bulk", 10)]
    assert [c for c in z.calls if c[0] != "bulk"] == [("verify", "200"), ("single", "100"), ("single", "101"),
                                                       ("single", "102")]
    assert {r[0] for r in results} == {r["id"] for r in rows} and all(r[1] == "sent" for r in results)


async def test_when_zendesk_fails_the_rest_waits_without_spending_an_attempt():
    z = FakeZendesk(fail_single=Outcome(False, "HTTP 503", retry_after=7))
    rows = [_row(i, f"own {i}") for i in range(4)]
    results = await _sender(z)._zendesk(rows)
    assert z.calls == [("single", "0")]
    first, *rest = results
    assert first[1] == "pending" and first[2] >= 7 and first[5] == 0
    assert [(r[1], r[2], r[5]) for r in rest] == [("pending", first[2], 1)] * 3


async def test_a_permanent_error_does_not_hold_back_the_others():
    z = FakeZendesk(fail_single=Outcome(False, "HTTP 404", retryable=False))
    results = await _sender(z)._zendesk([_row(i, f"own {i}") for i in range(3)])
    assert len(z.calls) == 3 and [r[1] for r in results] == ["dead"] * 3
