"""ticket-triage: links each customer ticket to its incident, opens a new one, or routes it to standard support."""
