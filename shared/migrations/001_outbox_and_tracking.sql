-- 001: transactional outbox and consumer tracking, created in every service's schema.
-- The outbox holds events written in the same transaction as the state change they describe; the relay
-- publishes them in id order and deletes them. consumer_positions records, per consumer group and partition,
-- the next offset whose effect is not stored yet (updated in the effect's transaction), so a redelivered
-- record is recognised and skipped. processed_events does the same by event id, for events that may be
-- published twice (a relay that died between sending and deleting).
CREATE TABLE IF NOT EXISTS outbox (
    id          bigserial PRIMARY KEY,
    topic       text        NOT NULL,
    key         bytea,
    value       bytea       NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS consumer_positions (
    group_id    text    NOT NULL,
    topic       text    NOT NULL,
    partition   int     NOT NULL,
    next_offset bigint  NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

CREATE TABLE IF NOT EXISTS processed_events (
    consumer     text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
