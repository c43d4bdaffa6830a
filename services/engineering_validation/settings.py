"""engineering-validation settings (environment variables prefixed VALIDATION_)."""

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VALIDATION_", extra="ignore", populate_by_name=True)

    http_port: int = 8082
