-- 001: the notifier's view of incidents and linked tickets, the delivery log (one row per (update, target)
-- with a unique idempotency key, written before sending) and the durable periodic schedules.
CREATE TABLE IF NOT EXISTS incidents (
    incident_id     text PRIMARY KEY,
    product         text,
    title           text NOT NULL DEFAULT '',
    team            text,
    severity        text,
    status          text NOT NULL DEFAULT 'investigating',
    latest_update   text NOT NULL DEFAULT '',
    merged_into     text,
    resolved        boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS links (
    incident_id  text NOT NULL,
    ticket_id    text NOT NULL,
    locale       text,
    active       boolean NOT NULL DEFAULT true,
    linked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, ticket_id)
);
CREATE INDEX IF NOT EXISTS links_ticket ON links(ticket_id);

-- status: pending -> sending (claimed, lease) -> sent | pending (retry, backoff) | dead; cancelled on unlink.
CREATE TABLE IF NOT EXISTS deliveries (
    id               bigserial PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    channel          text NOT NULL,            -- zendesk | webhook
    target           text NOT NULL,            -- the work queue: 'zendesk' or 'webhook:<name>'
    kind             text NOT NULL,            -- link | update | status | resolved | periodic | event | escalation
    incident_id      text,
    ticket_id        text,
    event_id         text,
    body             text NOT NULL DEFAULT '', -- comment text (zendesk)
    payload          bytea,                    -- webhook body
    status           text NOT NULL DEFAULT 'pending',
    attempts         int  NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claimed_until    timestamptz,
    claimed_by       text,
    last_error       text,
    external_ref     text,                     -- zendesk job id, http status
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries(target, next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_inflight ON deliveries(claimed_until) WHERE status = 'sending';
CREATE INDEX IF NOT EXISTS deliveries_incident ON deliveries(incident_id, id);
CREATE INDEX IF NOT EXISTS deliveries_ticket ON deliveries(ticket_id, id);
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries(id) WHERE status = 'dead';

-- One row per incident with a cadence; period increments each time a periodic update is enqueued, so the
-- periodic idempotency key (incident, period) makes a double run impossible.
CREATE TABLE IF NOT EXISTS schedules (
    incident_id        text PRIMARY KEY,
    cadence_s          double precision NOT NULL,
    last_broadcast_at  timestamptz NOT NULL,
    next_due_at        timestamptz NOT NULL,
    period             int NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS schedules_due ON schedules(next_due_at);
