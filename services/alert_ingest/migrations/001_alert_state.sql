-- 001: alert state (one row per fingerprint) and its append-only history.
-- alert_state.status is NULL for a fingerprint that was only locked, never stored (e.g. a resolve of an
-- unknown alert): the row exists so that two instances racing on a new fingerprint serialise on it.
-- Repeats only update occurrences and last_seen; `alert` holds the latest canonical alert as JSON.
-- alert_history gets one row per state transition (sent or suppressed), never per plain repeat.
CREATE TABLE IF NOT EXISTS alert_state (
    fingerprint  text PRIMARY KEY,
    status       text,
    severity     text,
    occurrences  bigint      NOT NULL DEFAULT 0,
    episode      int         NOT NULL DEFAULT 0,
    change_seq   bigint      NOT NULL DEFAULT 0,
    flapping     boolean     NOT NULL DEFAULT false,
    flips        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    first_seen   timestamptz,
    last_seen    timestamptz,
    alert        jsonb,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS alert_state_flapping ON alert_state (fingerprint) WHERE flapping;

CREATE TABLE IF NOT EXISTS alert_history (
    id           bigserial PRIMARY KEY,
    fingerprint  text        NOT NULL,
    at           timestamptz NOT NULL,
    outcome      text        NOT NULL,
    status       text        NOT NULL,
    severity     text        NOT NULL,
    ref          text        NOT NULL DEFAULT '',
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS alert_history_fingerprint ON alert_history (fingerprint, id);
