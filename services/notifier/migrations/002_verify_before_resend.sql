-- 002: a Zendesk delivery whose outcome is unknown (read timeout, sender died mid-request, bulk job not
-- followed to the end) is retried only after checking the ticket's comments: verify_first marks it.
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS verify_first boolean NOT NULL DEFAULT false;
