"""Scenario 7: the same storm, as Alertmanager-format alerts, posted to Prometheus Alertmanager's
/api/v2/alerts and to alert-ingest's webhook receiver: alerts accepted per second, side by side."""

from __future__ import annotations

import asyncio
import shutil
import time

import httpx
import orjson

from ..payloads import alert_stream, am_webhook
from ..pipeline import services
from ..procs import RECEIVER_TOKEN, STATE, Proc, free_port, missing
from ..slice import stack_slice
from ..stats import spread
from . import Ctx, NotRun

AM_CONFIG = 'route:\n  receiver: "null"\n  group_wait: 30s\nreceivers:\n  - name: "null"\n'


def alertmanager_proc(run_id: str) -> Proc:
    """Alertmanager on a loopback port, clustering off (its default port is Kafka's SASL port here)."""
    exe = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not exe:
        raise NotRun("prometheus-alertmanager is not installed (apt-get install -y prometheus-alertmanager)")
    home = STATE / f"alertmanager-{run_id}"
    home.mkdir(parents=True, exist_ok=True)
    (home / "alertmanager.yml").write_text(AM_CONFIG)
    port = free_port()
    argv = [exe, f"--config.file={home / 'alertmanager.yml'}", f"--storage.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"]
    return Proc("alertmanager", argv, {}, port)


async def post_all(url: str, bodies: list[bytes], per_body: int, concurrency: int,
                   headers: dict[str, str]) -> float:
    """POST every body with `concurrency` workers; accepted alerts per second."""
    queue = iter(bodies)
    accepted = 0
    failures: list[str] = []

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal accepted
        for body in queue:
            r = await client.post(url, content=body, headers=headers)
            if r.status_code in (200, 202):
                accepted += per_body
            elif len(failures) < 3:
                failures.append(f"{r.status_code} {r.text[:200]}")

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"{url}: requests refused: {failures}")
    return accepted / elapsed


def bodies(n_alerts: int, batch: int) -> tuple[list[bytes], list[bytes]]:
    """(Alertmanager /api/v2/alerts bodies, alert-ingest webhook bodies) carrying the same alerts."""
    alerts = [s.am_alert() for s in alert_stream(n_alerts, 2_000, seed=11)]
    am, ingest = [], []
    for i in range(0, len(alerts), batch):
        chunk = alerts[i:i + batch]
        am.append(orjson.dumps([{k: a[k] for k in ("labels", "annotations", "startsAt", "generatorURL")}
                                for a in chunk]))
        ingest.append(orjson.dumps(am_webhook(chunk, f"bench-{i}")))
    return am, ingest


async def run(ctx: Ctx) -> dict:
    cfg = ctx.cfg
    if reason := missing("alert-ingest"):
        raise NotRun(reason)
    am_bodies, ingest_bodies = bodies(cfg.am_alerts, cfg.am_batch)
    am = alertmanager_proc(ctx.run_id)
    am.start()
    am_runs, ingest_runs = [], []
    try:
        await am.wait_http_ready("/-/ready", timeout=30)
        async with stack_slice() as s, services(s, ["alert-ingest"]) as procs:
            ingest_url = procs["alert-ingest"].url + "/v1/alerts/alertmanager"
            auth = {"Authorization": f"Bearer {RECEIVER_TOKEN}", "Content-Type": "application/json"}
            for _ in range(cfg.reps):
                ingest_runs.append(await post_all(ingest_url, ingest_bodies, cfg.am_batch, cfg.am_concurrency,
                                                  auth))
                am_runs.append(await post_all(am.url + "/api/v2/alerts", am_bodies, cfg.am_batch,
                                              cfg.am_concurrency, {"Content-Type": "application/json"}))
    finally:
        await am.stop()
        shutil.rmtree(STATE / f"alertmanager-{ctx.run_id}", ignore_errors=True)
    a, i = spread(am_runs), spread(ingest_runs)
    return {"alerts": len(am_bodies) * cfg.am_batch, "batch": cfg.am_batch, "concurrency": cfg.am_concurrency,
            "alertmanager_per_s": a, "alert_ingest_per_s": i, "ratio": i["median"] / a["median"], "pass": None}
