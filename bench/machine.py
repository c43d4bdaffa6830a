"""The machine a run was measured on: cores, memory, CPU model, load, versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import psutil


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "-"


def _cmd(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except Exception:
        return "-"


def describe(kafka_version: str = "-", postgres_version: str = "-") -> dict:
    """A dict for the results JSON and the docs table."""
    return {
        "nproc": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_model": _cpu_model(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "kernel": platform.release(), "python": platform.python_version(),
        "kafka": kafka_version, "postgresql": postgres_version,
        "alertmanager": _cmd(["prometheus-alertmanager", "--version"]),
        "packages": {p: _version(p) for p in ("aiokafka", "faststream", "asyncpg", "pydantic", "orjson", "uvicorn",
                                              "fastapi", "httpx", "psutil", "py-spy")},
    }


async def server_versions(admin_dsn: str, bootstrap: str) -> tuple[str, str]:
    """(Kafka, PostgreSQL) versions as the servers report them."""
    import asyncpg
    from aiokafka.admin import AIOKafkaAdminClient

    pg = kafka = "-"
    try:
        conn = await asyncpg.connect(admin_dsn)
        try:
            pg = (await conn.fetchval("SHOW server_version")).split()[0]
        finally:
            await conn.close()
    except Exception:
        pass
    libs = Path(__file__).resolve().parents[1] / ".state" / "kafka" / "libs"
    jars = sorted(p.name for p in libs.glob("kafka-server-[0-9]*.jar")) if libs.exists() else []
    if jars:
        kafka = jars[0].removesuffix(".jar").rsplit("-", 1)[-1]
    else:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            kafka = "broker api " + ".".join(map(str, admin._client.api_version))
        except Exception:
            pass
        finally:
            await admin.close()
    return kafka, pg
