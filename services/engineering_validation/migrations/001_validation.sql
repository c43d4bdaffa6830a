-- 001: engineering-validation state. Candidates group alerts per (product, signal); alerts are the latest
-- state per fingerprint; ticket_evidence is what tickets.triaged told us (corroboration); silences are
-- declared maintenance windows; incidents/incident_tickets/timeline are the one view of every incident
-- (including those ticket-triage opened); timers are durable (validation delay, escalation, auto-resolve).
CREATE TABLE IF NOT EXISTS candidates (
    id           text PRIMARY KEY,
    product      text        NOT NULL,
    signal       text        NOT NULL,
    team         text        NOT NULL,
    status       text        NOT NULL DEFAULT 'pending',  -- pending | confirmed | dismissed
    summary      text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    decided_at   timestamptz,
    decided_kind text,        -- policy | engineer
    decided_by   text,
    reason       text,
    severity     text,
    incident_id  text,
    escalated_at timestamptz
);
CREATE INDEX IF NOT EXISTS candidates_product_status ON candidates (product, status, created_at);
CREATE INDEX IF NOT EXISTS candidates_team_status ON candidates (team, status);

CREATE TABLE IF NOT EXISTS alerts (
    fingerprint  text PRIMARY KEY,
    product      text        NOT NULL,
    signal       text        NOT NULL,
    severity     text        NOT NULL,
    status       text        NOT NULL,  -- firing | resolved
    summary      text        NOT NULL DEFAULT '',
    candidate_id text,
    incident_id  text,
    fired_at     timestamptz NOT NULL,
    resolved_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS alerts_candidate ON alerts (candidate_id);
CREATE INDEX IF NOT EXISTS alerts_incident ON alerts (incident_id);
CREATE INDEX IF NOT EXISTS alerts_product_status ON alerts (product, status, fired_at);

CREATE TABLE IF NOT EXISTS ticket_evidence (
    ticket_id       text PRIMARY KEY,
    product         text        NOT NULL,
    outcome         text        NOT NULL,
    organization_id text,
    priority        text,
    received_at     timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ticket_evidence_product ON ticket_evidence (product, received_at);

CREATE TABLE IF NOT EXISTS silences (
    id         text PRIMARY KEY,
    product    text        NOT NULL,
    signal     text,
    mode       text        NOT NULL,  -- hold | dismiss
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    reason     text        NOT NULL DEFAULT '',
    created_by text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS incidents (
    id          text PRIMARY KEY,
    title       text        NOT NULL,
    product     text        NOT NULL,
    signal      text,
    severity    text        NOT NULL,
    status      text        NOT NULL,
    opened_from text        NOT NULL,
    team        text        NOT NULL,
    summary     text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    resolved_at timestamptz,
    merged_into text
);
CREATE INDEX IF NOT EXISTS incidents_product_status ON incidents (product, status);

CREATE TABLE IF NOT EXISTS incident_tickets (
    incident_id text        NOT NULL,
    ticket_id   text        NOT NULL,
    ticket      jsonb       NOT NULL,
    link_reason text        NOT NULL,
    linked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, ticket_id)
);

CREATE TABLE IF NOT EXISTS timeline (
    id          bigserial PRIMARY KEY,
    incident_id text        NOT NULL,
    at          timestamptz NOT NULL,
    kind        text        NOT NULL,
    actor       text        NOT NULL DEFAULT '',
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS timeline_incident ON timeline (incident_id, id);

CREATE TABLE IF NOT EXISTS timers (
    kind    text        NOT NULL,  -- evaluate | escalate | auto_resolve
    subject text        NOT NULL,  -- candidate id or incident id
    product text        NOT NULL,  -- lock key: timers take the product lock before the timer row
    due_at  timestamptz NOT NULL,
    PRIMARY KEY (kind, subject)
);
CREATE INDEX IF NOT EXISTS timers_due ON timers (due_at);
