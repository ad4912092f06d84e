-- +goose Up
-- Stock per item. A unit is in exactly one of three columns, so for every item
-- available + reserved + sold is everything ever stocked; the CHECKs make oversell impossible
-- even if a query were wrong.
CREATE TABLE items (
    sku         text        PRIMARY KEY,
    name        text        NOT NULL,
    price_cents bigint      NOT NULL CHECK (price_cents >= 0),
    available   bigint      NOT NULL CHECK (available >= 0),
    reserved    bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    sold        bigint      NOT NULL DEFAULT 0 CHECK (sold >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per order inventory has heard of: the decision taken on its ORDER_REQUESTED (RESERVED or
-- REJECTED, with reason and failing sku), what became of it (RELEASED, SOLD), or a CANCELLED
-- tombstone for an order cancelled before it was requested. The primary key is what makes each
-- order's decision happen once, whatever the event ids.
CREATE TABLE reservations (
    order_id    text        PRIMARY KEY,
    user_id     text        NOT NULL DEFAULT '',
    status      text        NOT NULL CHECK (status IN ('RESERVED', 'RELEASED', 'SOLD', 'REJECTED', 'CANCELLED')),
    reason      text        NOT NULL DEFAULT '',
    sku         text        NOT NULL DEFAULT '',
    total_cents bigint      NOT NULL DEFAULT 0 CHECK (total_cents >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The lines of a RESERVED order at the price they were reserved at. Releasing and selling use
-- these, not the event's lines: the stored state is what was taken from stock.
CREATE TABLE reservation_lines (
    order_id    text   NOT NULL REFERENCES reservations (order_id) ON DELETE CASCADE,
    sku         text   NOT NULL REFERENCES items (sku),
    quantity    bigint NOT NULL CHECK (quantity > 0),
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    PRIMARY KEY (order_id, sku)
);

-- +goose Down
DROP TABLE reservation_lines;
DROP TABLE reservations;
DROP TABLE items;
