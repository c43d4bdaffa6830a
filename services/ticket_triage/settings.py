"""ticket-triage settings (environment variables prefixed TRIAGE_)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

from .domain.policy import TriagePolicy


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_", extra="ignore", populate_by_name=True,
                                      env_nested_delimiter="__")

    http_port: int = 8083
    zendesk_signing_secret: SecretStr | None = Field(
        None, description="Zendesk webhook signing secret; without it POST /v1/tickets/zendesk answers 401.")
    zendesk_max_skew_s: int = Field(300, description="Reject signatures whose timestamp is older/newer than this.")
    policy: TriagePolicy = Field(default_factory=TriagePolicy, description="Decision thresholds and mappings.")
    product_teams: dict[str, str] = Field(
        default_factory=lambda: {"Support": "support-eng", "Guide": "guide-eng", "Chat": "chat-eng",
                                 "Talk": "talk-eng"},
        description="Owning team per product (incidents opened from tickets, override scoping).")
    override_teams: list[str] = Field(
        default_factory=lambda: ["customer-support"],
        description="Teams whose tokens may override any ticket (besides '*' and the product's team).")
