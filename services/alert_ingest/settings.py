"""alert-ingest settings (environment variables prefixed ALERT_INGEST_)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ALERT_INGEST_", extra="ignore", populate_by_name=True)

    http_port: int = 8081
