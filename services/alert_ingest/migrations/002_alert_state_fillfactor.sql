-- 002: leave room on alert_state's pages so the storm's repeat updates (occurrences, last_seen) are HOT:
-- the new row version stays on its page and no index entry is written for it.
ALTER TABLE alert_state SET (fillfactor = 50);
