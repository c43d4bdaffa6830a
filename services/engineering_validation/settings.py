"""engineering-validation settings (environment variables prefixed VALIDATION_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

DEFAULT_OWNERS = {"Support": "support-eng", "Guide": "guide-eng", "Chat": "chat-eng", "Talk": "talk-eng"}


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VALIDATION_", extra="ignore", populate_by_name=True)

    http_port: int = 8082
    owners: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_OWNERS),
                                   description="Product -> owning team (JSON in VALIDATION_OWNERS).")
    fallback_team: str = Field("operations", description="Team for products missing from the ownership map.")
    group_window_s: float = Field(900, description="Alerts of one (product, signal) join a pending candidate "
                                                   "created at most this long ago.")
    critical_policy: bool = Field(True, description="Confirm a critical alert still firing after the delay.")
    critical_delay_s: float = Field(0, description="Delay for critical_still_firing; 0 confirms at once.")
    multi_signal_min: int = Field(2, description="Distinct firing signals of one product that confirm (0 = off).")
    multi_signal_window_s: float = Field(600, description="Window in which those signals must have fired.")
    ticket_window_s: float = Field(1800, description="Window in which triaged tickets corroborate a candidate.")
    ticket_min: int = Field(3, description="Triaged tickets of the product (any outcome) that confirm (0 = off).")
    ticket_linked_confirms: bool = Field(True, description="One ticket triaged linked/new_incident confirms.")
    mirror_grace_s: float = Field(2, description="A ticket naming an incident not seen yet waits this long "
                                                 "for it before confirming (so the alert joins it).")
    transient_window_s: float = Field(120, description="An alert resolved within this long of firing, before "
                                                       "any decision, is dismissed as transient.")
    escalate_after_s: float = Field(900, description="A candidate pending this long is escalated once.")
    auto_resolve: bool = Field(False, description="Resolve incidents whose alerts all resolved (quiet period).")
    auto_resolve_quiet_s: float = Field(900, description="Quiet period before auto-resolve.")
    timer_poll_interval_s: float = Field(0.1, description="How often the timer task looks for due timers.")
