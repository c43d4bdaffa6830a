"""The tunable knobs of triage, in one model (nested under TRIAGE_POLICY__... in the environment)."""

from __future__ import annotations

from pydantic import BaseModel, Field


def _tag_products() -> dict[str, str]:
    return {"chat": "Chat", "talk": "Talk", "guide": "Guide", "support": "Support",
            "product_chat": "Chat", "product_talk": "Talk", "product_guide": "Guide", "product_support": "Support"}


class TriagePolicy(BaseModel):
    """Thresholds, windows and field-to-product mappings used by the decision."""

    problem_threshold: float = Field(1.0, description="Problem score at or above which a ticket reports a service problem.")
    link_threshold: float = Field(0.5, description="Match score at or above which a ticket joins an open incident.")
    link_min_problem: float = Field(0.5, description="Problem score a ticket needs at least to be linked.")
    cluster_min_orgs: int = Field(3, ge=1, description="Distinct organisations needed to open an incident from tickets.")
    cluster_window_s: int = Field(3600, description="Pending problem tickets this recent can form a cluster.")
    cluster_similarity: float = Field(0.25, description="Text similarity needed between tickets of one cluster.")
    urgent_opens_incident: bool = Field(True, description="One urgent problem ticket is enough to open an incident.")
    late_link_window_s: int = Field(7200, description="Tickets this much older than a new incident may be late-linked.")
    match_lookback_s: int = Field(86400, description="A ticket older than the incident by more than this gets no time credit.")
    brand_products: dict[str, str] = Field(default_factory=dict, description="Zendesk brand_id -> product.")
    form_products: dict[str, str] = Field(default_factory=dict, description="Zendesk form_id -> product.")
    tag_products: dict[str, str] = Field(default_factory=_tag_products, description="Ticket tag -> product.")
    product_field_id: str | None = Field(None, description="Zendesk custom field id whose value names the product.")
