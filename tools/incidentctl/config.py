"""incidentctl settings, from the environment (INCIDENTCTL_*), with the native stack's defaults."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import KafkaSettings


class CtlSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INCIDENTCTL_", extra="ignore")

    token: SecretStr | None = Field(None, description="API token (incidentctl tokens create).")
    ingest_url: str = "http://127.0.0.1:8081"
    validation_url: str = "http://127.0.0.1:8082"
    triage_url: str = "http://127.0.0.1:8083"
    notifier_url: str = "http://127.0.0.1:8084"
    alert_receiver_token: SecretStr | None = Field(None, description="alert-ingest's receiver bearer token.")
    timeout_s: float = 10.0
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
