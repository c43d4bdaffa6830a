"""Settings base class: the connection settings every service reads, without a prefix, plus per-service ones."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class KafkaSettings(BaseSettings):
    """How to reach the broker (shared by all services: no per-service prefix)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS"))
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = Field(
        "PLAINTEXT", validation_alias=_env("KAFKA_SECURITY_PROTOCOL")
    )
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = Field(
        "SCRAM-SHA-512", validation_alias=_env("KAFKA_SASL_MECHANISM")
    )
    sasl_username: str | None = Field(None, validation_alias=_env("KAFKA_SASL_USERNAME"))
    sasl_password: SecretStr | None = Field(None, validation_alias=_env("KAFKA_SASL_PASSWORD"))
    ssl_cafile: str | None = Field(None, validation_alias=_env("KAFKA_SSL_CAFILE"))
    topic_prefix: str = Field(
        "", validation_alias=_env("TOPIC_PREFIX"),
        description="Prepended to every topic name; tests use it to isolate runs on one broker.",
    )
    partitions: int = Field(6, validation_alias=_env("KAFKA_TOPIC_PARTITIONS"))


class ServiceSettings(BaseSettings):
    """Base of every service's settings class; subclasses set env_prefix (e.g. ALERT_INGEST_)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    database_url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/incidents"), validation_alias=_env("DATABASE_URL")
    )
    db_pool_min: int = 1
    db_pool_max: int = 8
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"))
    log_json: bool | None = Field(None, validation_alias=_env("LOG_JSON"))
    instance_id: str = Field("", description="Distinguishes instances in logs and consumer client ids.")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    relay_poll_interval_s: float = Field(0.5, description="Outbox relay fallback poll; NOTIFY wakes it sooner.")
    consumer_max_records: int = 500
