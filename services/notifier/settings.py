"""notifier settings (environment variables prefixed NOTIFIER_)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.contracts.severity import DEFAULT_CADENCE_MINUTES
from shared.settings import ServiceSettings


class WebhookSubscription(BaseModel):
    """A downstream subscriber: which events (CloudEvents types or '*') of which products go to which URL."""

    name: str
    url: str
    secret: SecretStr = Field(description="Standard Webhooks secret, 'whsec_' + base64.")
    event_types: list[str] = Field(default_factory=lambda: ["*"])
    products: list[str] = Field(default_factory=lambda: ["*"])


class TeamWebhook(BaseModel):
    """Where a team's escalations go."""

    url: str
    secret: SecretStr


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", populate_by_name=True)

    http_port: int = 8084

    # Zendesk
    zendesk_base_url: str = "http://127.0.0.1:8090"
    zendesk_email: str = "notifier@example.com"
    zendesk_api_token: SecretStr = SecretStr("")
    zendesk_rate_limit_per_minute: int = Field(400, description="Client-side cap on Zendesk requests.")
    zendesk_bulk_min: int = Field(10, description="Same comment to at least this many tickets: update_many.")
    zendesk_bulk_size: int = Field(100, le=100, description="Tickets per update_many job (Zendesk max 100).")
    zendesk_bulk_concurrency: int = Field(10, ge=1, le=30, description="update_many jobs in flight at once "
                                                                       "(Zendesk queues at most 30 per account).")
    zendesk_job_poll_interval_s: float = 1.0
    zendesk_job_timeout_s: float = 120.0

    # Webhooks
    webhooks: list[WebhookSubscription] = Field(default_factory=list, description="JSON list of subscriptions.")
    team_webhooks: dict[str, TeamWebhook] = Field(default_factory=dict, description="JSON: team -> webhook.")
    webhook_allowed_hosts: str = Field("", description="Comma-separated hosts/IPs/CIDRs exempt from the SSRF guard.")
    webhook_max_redirects: int = 3

    # Delivery policy
    http_timeout_s: float = 10.0
    max_attempts: int = Field(6, description="A delivery failing this many times is dead.")
    backoff_base_s: float = 2.0
    backoff_max_s: float = 600.0
    send_lease_s: float = Field(300.0, description="How long a claimed delivery is reserved for its sender.")
    sender_poll_interval_s: float = 0.5
    sender_batch: int = 1000
    scheduler_poll_interval_s: float = 5.0

    # Periodic updates: minutes per severity (null: none), overridden per key by cadence_seconds (tests).
    cadence_minutes: dict[str, float | None] = Field(default_factory=lambda: dict(DEFAULT_CADENCE_MINUTES))
    cadence_seconds: dict[str, float | None] = Field(default_factory=dict)
    default_locale: str = "en"

    def cadences(self) -> dict[str, float | None]:
        """Effective cadence in seconds per severity (None: no periodic updates)."""
        out: dict[str, float | None] = {str(k): v for k, v in DEFAULT_CADENCE_MINUTES.items()}
        out = {k: (v * 60 if v else None) for k, v in out.items()}
        out.update({k: (v * 60 if v else None) for k, v in self.cadence_minutes.items()})
        out.update({k: (v if v else None) for k, v in self.cadence_seconds.items()})
        return out

    def allowed_hosts(self) -> list[str]:
        return [h.strip() for h in self.webhook_allowed_hosts.split(",") if h.strip()]
