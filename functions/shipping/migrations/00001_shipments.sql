-- +goose Up
-- One shipment per order: the primary key makes a repeated ORDER_ACCEPTED (a redelivery, or the
-- same order under another event id) find the first shipment instead of creating a second.
CREATE TABLE shipments (
    order_id    text        PRIMARY KEY,
    tracking_id text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE shipments;
