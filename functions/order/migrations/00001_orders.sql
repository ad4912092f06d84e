-- +goose Up
CREATE TABLE orders (
    id                 uuid        PRIMARY KEY,
    user_id            text        NOT NULL,
    status             text        NOT NULL CHECK (status IN ('REQUESTED', 'APPROVED', 'COMPLETED', 'CANCELLED')),
    -- The lines as ordered: [{"sku", "quantity"}]. They are the stored state that ORDER_CANCELLED
    -- and ORDER_COMPLETED are built from.
    items              jsonb       NOT NULL,
    inventory_reserved boolean     NOT NULL DEFAULT false,
    total_cents        bigint      NOT NULL DEFAULT 0 CHECK (total_cents >= 0),
    cancel_reason      text        NOT NULL DEFAULT '',
    tracking_id        text        NOT NULL DEFAULT '',
    -- Idempotency-Key of the creating request and a hash of its body, so a retried POST returns
    -- the same order and a reused key with a different body is refused.
    idempotency_key    text,
    request_hash       bytea,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC);
CREATE INDEX orders_by_time ON orders (created_at DESC);

-- +goose Down
DROP TABLE orders;
