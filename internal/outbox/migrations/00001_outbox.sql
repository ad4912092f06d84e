-- +goose Up
-- Events written in the same transaction as the state change that caused them, published to
-- Kafka after commit. Rows with published_at NULL are what a crash or a broker outage left behind;
-- the sweep publishes them.
CREATE TABLE outbox (
    id           text        PRIMARY KEY,
    event        bytea       NOT NULL, -- the CloudEvent in JSON, byte for byte
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE outbox;
