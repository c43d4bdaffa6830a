"""CommitBehind: a handled batch's offsets are committed in the background, latest first, one commit at a time,
and a failed commit (rebalance, stop) is logged, never raised into the consumer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from shared.kafka import CommitBehind


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int


class SlowConsumer:
    """Records the commits; each takes until `release` is set (the broker's round trip)."""

    def __init__(self, fail: bool = False) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.release = asyncio.Event()
        self.fail = fail

    async def commit(self, offsets):
        self.commits.append({tp: o.offset for tp, o in offsets.items()})
        await self.release.wait()
        if self.fail:
            raise CommitFailedError("rebalanced")


async def test_offer_returns_at_once_and_commits_the_offsets_after_the_batch():
    consumer = SlowConsumer()
    committer = CommitBehind.of(consumer)
    assert CommitBehind.of(consumer) is committer
    committer.offer((Rec("t", 0, 5), Rec("t", 1, 9), Rec("t", 0, 7)))  # not awaited: the next batch goes on
    await asyncio.sleep(0)
    assert consumer.commits == [{TopicPartition("t", 0): 8, TopicPartition("t", 1): 10}]
    consumer.release.set()
    await committer._task


async def test_batches_handled_during_a_commit_go_in_one_later_commit_with_the_latest_offsets():
    consumer = SlowConsumer()
    committer = CommitBehind.of(consumer)
    committer.offer((Rec("t", 0, 1),))
    await asyncio.sleep(0)
    committer.offer((Rec("t", 0, 2), Rec("t", 2, 4)))
    committer.offer((Rec("t", 0, 3),))
    assert len(consumer.commits) == 1  # one commit in flight at a time
    consumer.release.set()
    await committer._task
    assert consumer.commits == [{TopicPartition("t", 0): 2},
                                {TopicPartition("t", 0): 4, TopicPartition("t", 2): 5}]


async def test_a_failed_commit_is_logged_not_raised_and_the_next_batch_commits_again():
    consumer = SlowConsumer(fail=True)
    consumer.release.set()
    committer = CommitBehind.of(consumer)
    committer.offer((Rec("t", 0, 1),))
    await committer._task  # no exception: the positions in the database make a redelivery harmless
    consumer.fail = False
    committer.offer((Rec("t", 0, 2),))
    await committer._task
    assert consumer.commits[-1] == {TopicPartition("t", 0): 3}
