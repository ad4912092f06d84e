-- +goose Up
-- One charge per order, ever: the primary key on order_id is what makes the random outcome
-- final, whichever event (or redelivery) asks for it again.
CREATE TABLE transactions (
    order_id     text        PRIMARY KEY,
    id           uuid        NOT NULL UNIQUE,
    amount_cents bigint      NOT NULL CHECK (amount_cents >= 0),
    status       text        NOT NULL CHECK (status IN ('COMPLETED', 'FAILED')),
    reason       text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'FAILED') = (reason <> ''))
);

-- +goose Down
DROP TABLE transactions;
