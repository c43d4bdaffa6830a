"""The baseline: a raw aiokafka relay (getmany from A, produce to B with acks=all and idempotence, batching
tuned, offsets committed manually per batch). Run as its own process, like a service:

    python -m bench.baseline --source A --target B --group G --ready-file PATH
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

#: Batching that measured best here: wait up to 5 ms to fill batches of up to 512 KiB.
PRODUCER = {"acks": "all", "enable_idempotence": True, "linger_ms": 5, "max_batch_size": 512 * 1024,
            "max_request_size": 4 * 1024 * 1024}
CONSUMER = {"enable_auto_commit": False, "auto_offset_reset": "earliest", "fetch_max_bytes": 16 * 1024 * 1024,
            "max_partition_fetch_bytes": 2 * 1024 * 1024, "fetch_max_wait_ms": 50}


async def relay(bootstrap: str, source: str, target: str, group: str, ready_file: Path | None,
                max_records: int = 2000) -> None:
    """Relay until SIGTERM: one batch consumed, every record sent, all acknowledged, then offsets committed."""
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=group, **CONSUMER)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await producer.start()
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=max_records)
            if ready_file and consumer.assignment() and not ready_file.exists():
                ready_file.write_text("ready")
            if not batch:
                continue
            futures = [await producer.send(target, r.value, key=r.key, headers=r.headers)
                       for recs in batch.values() for r in recs]
            await asyncio.gather(*futures)
            await consumer.commit({tp: recs[-1].offset + 1 for tp, recs in batch.items()})
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--source", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--ready-file", type=Path)
    a = ap.parse_args()
    asyncio.run(relay(a.bootstrap, a.source, a.target, a.group, a.ready_file))


if __name__ == "__main__":
    main()
