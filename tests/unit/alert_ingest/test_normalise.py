"""Product, signal and severity rules."""

from __future__ import annotations

import pytest

from services.alert_ingest.domain.normalise import UNKNOWN_PRODUCT, product_of, severity_of, signal_of
from services.alert_ingest.settings import Settings

MAP = Settings(service_product_map={"zd-voice-gw": "Talk"}).product_map()


@pytest.mark.parametrize(("values", "product"), [
    (["Chat"], "Chat"), (["chat-api"], "Chat"), (["support"], "Support"), ([None, "help-center"], "Guide"),
    ([None, None, "zd-voice-gw"], "Talk"), (["billing"], "billing"), ([None, ""], UNKNOWN_PRODUCT),
    (["guide_web.eu"], "Guide"),
])
def test_product(values, product):
    assert product_of(values, MAP) == product


@pytest.mark.parametrize(("labels", "texts", "signal"), [
    ({"alertname": "HighLatency"}, (), "latency"),
    ({"alertname": "APIResponsesSlow"}, (), "latency"),
    ({"alertname": "HighErrorRate"}, (), "error_rate"),
    ({}, ("5xx rate above 5%",), "error_rate"),
    ({"alertname": "InstanceDown"}, (), "availability"),
    ({}, ("ticket volume changing faster than expected",), "traffic_volume"),
    ({"alertname": "RequestRateSpike"}, (), "traffic_volume"),
    ({"alertname": "DiskFull"}, (), "saturation"),
    ({"alertname": "Watchdog"}, (), "other"),
    ({"alertname": "HighErrorRate", "signal": "latency"}, (), "latency"),
])
def test_signal(labels, texts, signal):
    assert signal_of(labels, *texts) == signal


@pytest.mark.parametrize(("word", "severity"), [
    ("critical", "critical"), ("page", "critical"), ("P2", "error"), ("warn", "warning"), ("info", "info"),
    ("low", "info"), (None, "warning"), ("weird", "warning"),
])
def test_severity(word, severity):
    assert severity_of(word) == severity
