"""engineering-validation's own Prometheus metrics (the shared ones come from shared/)."""

from prometheus_client import Counter, Histogram

CANDIDATES_OPENED = Counter("validation_candidates_opened_total", "Candidates opened", ["team"])
DECISIONS = Counter("validation_decisions_total", "Candidate decisions", ["decision", "kind", "name"])
TIME_TO_DECISION = Histogram("validation_time_to_decision_seconds", "Candidate opened -> decided", ["kind"],
                             buckets=(0.1, 0.5, 1, 5, 30, 60, 300, 900, 1800, 3600, 14400))
ESCALATIONS = Counter("validation_escalations_total", "Candidates escalated", ["team"])
INCIDENTS_OPENED = Counter("validation_incidents_opened_total", "Incidents opened by this service", ["opened_from"])
TIMERS_FIRED = Counter("validation_timers_fired_total", "Durable timers fired", ["kind"])
