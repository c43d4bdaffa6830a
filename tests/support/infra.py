"""Where the real broker and database come from, in this order: KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when
set; testcontainers when a Docker engine answers; otherwise the native stack (deploy/stack.py infra)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Infra:
    bootstrap: str
    admin_dsn: str  # a DSN to the server, any database; tests create their own database
    _cleanup: list | None = None

    def close(self) -> None:
        for c in self._cleanup or []:
            c()


def _docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def start_infra() -> Infra:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    dsn = os.environ.get("DATABASE_URL")
    if bootstrap and dsn:
        return Infra(bootstrap, dsn)
    if _docker_available() and os.environ.get("TESTS_USE_NATIVE_STACK") != "1":
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        kafka = KafkaContainer("apache/kafka:4.1.1").with_kraft()
        pg = PostgresContainer("postgres:16", driver=None)
        kafka.start()
        pg.start()
        return Infra(kafka.get_bootstrap_server(), pg.get_connection_url(),
                     [kafka.stop, pg.stop])
    res = subprocess.run([sys.executable, str(ROOT / "deploy" / "stack.py"), "infra"], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"could not start the native stack:\n{res.stdout}\n{res.stderr}")
    port = os.environ.get("PG_PORT", "5432")
    return Infra(bootstrap or f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}",
                 dsn or f"postgresql://postgres@127.0.0.1:{port}/postgres")


def with_database(dsn: str, database: str) -> str:
    """The same server DSN pointing at another database."""
    base, _, rest = dsn.rpartition("/")
    query = ""
    if "?" in rest:
        query = "?" + rest.split("?", 1)[1]
    return f"{base}/{database}{query}"
