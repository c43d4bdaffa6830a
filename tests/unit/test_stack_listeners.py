"""deploy/stack.py renders the broker's listeners from its environment: SCRAM and TLS by default, none of them when
turned off, and the fault-injection listener advertised on the proxy's port only when asked for. (The module reads
its settings at import, so each case renders in a child process with its own environment and state dir.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RENDER = ("import sys; sys.path.insert(0, 'deploy'); import stack as s; "
          "print(s._kafka_props(s._scram_enabled(), s._tls_enabled()).read_text())")


def render(tmp_path: Path, **env: str) -> dict[str, str]:
    (tmp_path / "kafka").mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "STACK_"))}
    out = subprocess.run([sys.executable, "-c", RENDER], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**base, "STACK_STATE_DIR": str(tmp_path), **env}).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith("#"))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is missing")
def test_default_has_scram_and_tls_listeners_with_a_local_ca(tmp_path):
    props = render(tmp_path)
    assert props["advertised.listeners"] == ("PLAINTEXT://127.0.0.1:9092,SASL://127.0.0.1:9094,SSL://127.0.0.1:9095,"
                                             "SASL_SSL://127.0.0.1:9096")
    assert "SSL:SSL" in props["listener.security.protocol.map"]
    assert props["listener.name.ssl.ssl.keystore.location"] == str(tmp_path / "kafka" / "tls" / "broker.p12")
    tls = tmp_path / "kafka" / "tls"
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(tls / "ca.pem"), str(tls / "broker.pem")],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    assert (tls / "broker.key").stat().st_mode & 0o077 == 0
    password = props["listener.name.ssl.ssl.keystore.password"]
    assert render(tmp_path)["listener.name.ssl.ssl.keystore.password"] == password  # made once, then reused


def test_scram_and_tls_can_be_turned_off(tmp_path):
    props = render(tmp_path, KAFKA_SCRAM="0", KAFKA_SSL="0")
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert not (tmp_path / "kafka" / "tls").exists()


def test_proxied_listener_is_advertised_on_the_proxy_port_only_when_set(tmp_path):
    props = render(tmp_path, KAFKA_SCRAM="0", KAFKA_SSL="0", KAFKA_PROXIED_PORT="29095",
                   KAFKA_PROXIED_ADVERTISED_PORT="29096")
    assert props["listeners"].endswith(",PROXIED://127.0.0.1:29095")
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092,PROXIED://127.0.0.1:29096"
    assert props["listener.security.protocol.map"].endswith(",PROXIED:PLAINTEXT")
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
