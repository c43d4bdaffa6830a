-- 001: API tokens shared by the services' HTTP APIs. Only SHA-256 hashes are stored.
CREATE TABLE IF NOT EXISTS auth.api_tokens (
    token_hash  text PRIMARY KEY,
    name        text NOT NULL,
    team        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
