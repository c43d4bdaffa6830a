"""Results out: the JSON file under .state/bench/ and the generated table in docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"


def _f(x: Any, nd: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def _mmm(d: dict | None, nd: int = 0) -> str:
    """median (min-max) of a spread."""
    if not d or d.get("median") is None:
        return "-"
    return f"{_f(d['median'], nd)} ({_f(d['min'], nd)}-{_f(d['max'], nd)})"


def _verdict(r: dict) -> str:
    if "not_run" in r:
        return "not run"
    if "error" in r:
        return "error"
    return {True: "pass", False: "FAIL", None: "info"}[r.get("pass")]


def rows(results: dict[str, dict]) -> list[tuple[str, str, str, str]]:
    """(figure, goal, measured, verdict) for each scenario, in issue order."""
    out = []
    for key, title, goal, fmt in GOALS:
        r = results.get(key, {"not_run": "not selected"})
        if "not_run" in r:
            measured = f"not run: {r['not_run']}"
        elif "error" in r:
            measured = f"error: {r['error'][:200]}"
        else:
            measured = fmt(r)
        out.append((title, goal, measured, _verdict(r)))
    return out


def _ingest(r: dict) -> str:
    out = (f"one instance: {_f(r['ratio'])} x B (min {_f(r['ratio_min'])}, max {_f(r['ratio_max'])}); "
           f"{_mmm(r['records_per_s'])} records/s = {_f(r['alerts_per_s_median'], 0)} alerts/s; "
           f"B {_mmm(r['baseline_records_per_s'])} msgs/s")
    if inst := r.get("instances"):
        out += (f"; {inst['n']} instances (one per core, not judged): {_f(inst['ratio'])} x B "
                f"(min {_f(inst['ratio_min'])}, max {_f(inst['ratio_max'])}), {_mmm(inst['records_per_s'])} records/s")
    return out


def _storm(r: dict) -> str:
    c = r["runs"][0]
    return (f"{_f(r['ratio'])} x B (min {_f(r['ratio_min'])}, max {_f(r['ratio_max'])}): {_mmm(r['seconds'], 1)} s "
            f"vs B {_mmm(r['baseline_seconds'], 1)} s for {_f(r['alerts'])} alerts in {_f(r['records'])} records; "
            f"correct: {r['correct']} (state changes {c['first_firing']}/{r['fingerprints']}, problems "
            f"{c['problems_decided']}, max candidates per problem {c['candidates_per_problem_max']}, incidents "
            f"{c['incidents_opened']}, duplicate incidents {c['problems_with_several_incidents']}, "
            f"dead letters {c['dead_letters']})")


def _latency(which: str):
    def fmt(r: dict) -> str:
        x = r[which]
        if "not_run" in x:
            return f"not run: {x['not_run']}"
        p = x["percentiles"]
        return (f"p50/p95/p99 {_f(p['p50'], 0)}/{_f(p['p95'], 0)}/{_f(p['p99'], 0)} ms (n={p['n']}, p99 of "
                f"reps {_mmm(x['p99_ms'])}); p99 = {_f(x['ratio'], 1)} x B's p99 {_f(x['baseline_p99_ms'], 0)} ms")
    return fmt


def _triage(r: dict) -> str:
    return (f"{_f(r['ratio'])} x B (min {_f(r['ratio_min'])}, max {_f(r['ratio_max'])}); "
            f"{_mmm(r['tickets_per_s'])} tickets/s; outcomes {r.get('outcomes', {})}")


def _fanout(r: dict) -> str:
    done = (f"{_f(r['seconds'], 1)} s until all {_f(r['tickets'])} tickets had the comment" if r["finished"] else
            f"unfinished: {_f(r['tickets_commented'])}/{_f(r['tickets'])} tickets commented after "
            f"{_f(r['seconds'], 1)} s")
    return (f"{done}; {_f(r['http_calls'])} HTTP calls ({r['update_many_calls']} update_many, "
            f"{r['job_status_calls']} job polls; {_f(r['tickets_per_call'], 1)} tickets per call)")


def _memory(r: dict) -> str:
    parts = []
    for name, v in r["services"].items():
        if "not_run" in v:
            parts.append(f"{name}: not run ({v['not_run']})")
            continue
        where = f" (in {v['load_in']})" if v.get("load_in") else ""
        grows = "" if v.get("flat", True) else " (grows)"
        parts.append(f"{name}: load {_f(v.get('load_mb'), 0)} MB{where}, backlog {_f(v.get('backlog_mb'), 0)} MB{grows}")
    return "; ".join(parts) + f" (backlog {_f(r['backlog'])} msgs for alert-ingest, a tenth for the others)"


def _am(r: dict) -> str:
    return (f"alert-ingest {_mmm(r['alert_ingest_per_s'])} alerts/s vs Alertmanager {_mmm(r['alertmanager_per_s'])} "
            f"alerts/s = {_f(r['ratio'])} x ({r['alerts']:,} alerts, {r['batch']} per request, "
            f"concurrency {r['concurrency']})")


GOALS = [
    ("ingest", "1. alert-ingest sustained throughput", ">= 0.5 x B", _ingest),
    ("storm", "2. alert storm end to end", "<= 3 x B's time; one candidate per problem, no duplicate incident",
     _storm),
    ("latency_alerts", "3a. latency alert -> incident opened (1,000 alerts/s)", "p99 < 250 ms and < 20 x B's p99",
     _latency("alerts")),
    ("latency_tickets", "3b. latency ticket -> link event (200 tickets/s)", "p99 < 250 ms and < 20 x B's p99",
     _latency("tickets")),
    ("triage", "4. ticket-triage throughput (50 open incidents)", ">= 0.2 x B", _triage),
    ("fanout", "5. fan-out of one status update", "every linked ticket commented (time, HTTP calls)", _fanout),
    ("memory", "6. peak RSS per service", "< 200 MB each, not growing with a backlog", _memory),
    ("alertmanager", "7. HTTP receiver vs Prometheus Alertmanager", "side by side (alerts accepted/s)", _am),
]


def markdown(doc: dict) -> str:
    m = doc["machine"]
    lines = [START, "", f"Run `{doc['run_id']}` ({'BENCH_QUICK=1' if doc['quick'] else 'full'}), "
             f"{doc['started']} UTC, {doc['duration_s']:.0f} s. Raw results: `{doc['results_file']}`.", "",
             "| figure | goal | measured: median (min-max) of the repetitions | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(doc["results"])]
    b = doc["baseline"]
    lines += ["", f"Baseline (raw aiokafka relay, same broker, same payloads): B = {_mmm(b.get('throughput'))} msgs/s; "
              f"storm relay {_mmm(b.get('storm_seconds'), 1)} s; produce->consume p99 at 1,000/s "
              f"{_f((b.get('latency') or {}).get('p99'), 0)} ms.", "",
              f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, load average at start "
              f"{m['load_average_at_start']}; Linux {m['kernel']}; Python {m['python']}; Kafka {m['kafka']}; "
              f"PostgreSQL {m['postgresql']}; {m['alertmanager']}; "
              + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + "."]
    for key, who in (("profile", "alert-ingest"), ("profile_triage", "ticket-triage")):
        if prof := doc["results"].get(key):
            lines += ["", f"Profile of {who} under load (py-spy, % of samples while busy):", ""]
            lines += prof.get("table", [f"not run: {prof.get('not_run') or prof.get('error')}"])
    lines += ["", END]
    return "\n".join(lines)


def write(doc: dict, results_file: Path) -> None:
    """Write the JSON and replace the generated block of docs/benchmarks.md (the notes around it stay)."""
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(doc, indent=1, default=str))
    block = markdown(doc)
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START in text and END in text:
        text = text[:text.index(START)] + block + text[text.index(END) + len(END):]
    else:
        text += "\n" + block + "\n"
    DOC.write_text(text)
