-- 001: triage state. tickets holds each ticket once (business key ticket_id) with its current decision;
-- decisions is the append-only history (automatic decisions and agent overrides); incidents is triage's view
-- of incidents from incidents.updates (and those it opened); links says which ticket is linked to which
-- incident (one row per pair: a ticket is never linked twice to the same incident by triage itself).
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id        text PRIMARY KEY,
    source           text        NOT NULL,
    subject          text        NOT NULL,
    description      text        NOT NULL DEFAULT '',
    organization_id  text,
    requester_id     text,
    product          text,
    product_from     text        NOT NULL DEFAULT 'unknown',
    priority         text,
    locale           text,
    tags             text[]      NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    problem_score    double precision NOT NULL DEFAULT 0,
    outcome          text        NOT NULL,
    incident_id      text,
    pending_cluster  boolean     NOT NULL DEFAULT false,
    overridden       boolean     NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS tickets_pending ON tickets (product, created_at) WHERE pending_cluster;
CREATE INDEX IF NOT EXISTS tickets_recent ON tickets (created_at) WHERE incident_id IS NULL AND NOT overridden;

CREATE TABLE IF NOT EXISTS decisions (
    id          bigserial PRIMARY KEY,
    ticket_id   text        NOT NULL REFERENCES tickets(ticket_id),
    outcome     text        NOT NULL,
    incident_id text,
    reason      text        NOT NULL,
    score       double precision NOT NULL DEFAULT 0,
    features    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    decided_by  text        NOT NULL DEFAULT 'triage',
    override    boolean     NOT NULL DEFAULT false,
    decided_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS decisions_ticket ON decisions (ticket_id, id);

CREATE TABLE IF NOT EXISTS incidents (
    incident_id  text PRIMARY KEY,
    product      text        NOT NULL,
    title        text        NOT NULL,
    text         text        NOT NULL DEFAULT '',
    status       text        NOT NULL DEFAULT 'open',  -- open | resolved | merged
    merged_into  text,
    opened_from  text        NOT NULL,
    opened_at    timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (product) WHERE status = 'open';

CREATE TABLE IF NOT EXISTS links (
    incident_id  text        NOT NULL,
    ticket_id    text        NOT NULL REFERENCES tickets(ticket_id),
    reason       text        NOT NULL,
    active       boolean     NOT NULL DEFAULT true,
    times_linked int         NOT NULL DEFAULT 1,
    linked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, ticket_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS links_one_active ON links (ticket_id) WHERE active;
