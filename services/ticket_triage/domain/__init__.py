"""Pure triage logic: ticket parsing, text features, matching, clustering, the decision. No I/O, no clock."""
