-- 002: keep linked tickets' subjects apart from the incident's own text (title, summary, alert summaries):
-- both feed text similarity, but only the incident's own words say which component and symptom it is about.
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS ticket_text text NOT NULL DEFAULT '';
