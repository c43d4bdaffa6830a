-- 002: remember which incident a triaged ticket named, so a confirmation by tickets can wait briefly for
-- ticket-triage's IncidentOpened (another topic, no ordering) and join that incident instead of opening one.
ALTER TABLE ticket_evidence ADD COLUMN IF NOT EXISTS incident_id text;
