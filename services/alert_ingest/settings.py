"""alert-ingest settings (environment variables prefixed ALERT_INGEST_)."""

from typing import Annotated

import orjson
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.settings import ServiceSettings

#: Default service/app label value -> product (case-insensitive); extend with ALERT_INGEST_SERVICE_PRODUCT_MAP.
DEFAULT_PRODUCT_MAP = {
    "support": "Support", "zendesk-support": "Support", "tickets": "Support",
    "guide": "Guide", "help-center": "Guide", "helpcenter": "Guide",
    "chat": "Chat", "messaging": "Chat", "widget": "Chat",
    "talk": "Talk", "voice": "Talk", "telephony": "Talk",
}


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ALERT_INGEST_", extra="ignore", populate_by_name=True)

    http_port: int = 8081
    consumer_max_records: int = Field(2000, description="Records per batch: bigger batches amortise the "
                                                        "transaction (measured: 500 -> 2000 is ~15% faster).")
    consumers: int = Field(1, ge=1, le=16, description="Consumers of alerts.raw in this process (same group): one "
                           "parses while another waits for PostgreSQL. Worth it when the database is slow or "
                           "remote; here (local PostgreSQL, CPU-bound) 2 measured no faster than 1.")
    service_product_map: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_PRODUCT_MAP),
        description="JSON object: label value (service/app/product) -> product; merged over the defaults.")
    flap_threshold: int = Field(4, ge=1, description="More than this many firing/resolved flips in the window "
                                                     "marks an alert flapping.")
    flap_window_s: float = Field(600.0, gt=0, description="Flapping window in seconds.")
    flap_sweep_interval_s: float = Field(30.0, gt=0, description="How often quiet flapping alerts are ended.")
    max_payload_bytes: int = Field(1024 * 1024, description="Larger records and HTTP bodies are rejected.")
    alertmanager_token: SecretStr | None = Field(
        None, description="Bearer token for POST /v1/alerts/alertmanager (API tokens from shared.auth also work).")
    pagerduty_routing_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Routing keys accepted by POST /v2/enqueue: JSON list or comma-separated.")

    @field_validator("pagerduty_routing_keys", mode="before")
    @classmethod
    def _split_keys(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.strip()
            return orjson.loads(v) if v.startswith("[") else [k.strip() for k in v.split(",") if k.strip()]
        return v

    def product_map(self) -> dict[str, str]:
        """The effective (lower-cased) label value -> product map."""
        merged = {**DEFAULT_PRODUCT_MAP, **self.service_product_map}
        return {k.lower(): v for k, v in merged.items()}
