-- +goose Up
-- One row per event a function has handled, written in the same transaction as the event's
-- effect, with the reply it produced: a redelivery finds the row and gets the same reply back.
CREATE TABLE inbox (
    source     text        NOT NULL,
    id         text        NOT NULL,
    type       text        NOT NULL,
    reply      bytea, -- the reply event in JSON, byte for byte as first sent
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, id)
);

-- +goose Down
DROP TABLE inbox;
