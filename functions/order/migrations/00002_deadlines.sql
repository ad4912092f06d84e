-- +goose Up
-- Saga deadlines (docs/SAGA.md). An unfinished order has a deadline_at: when it passes, the
-- deadline pass republishes next_event (the CloudEvent that moves the order on from where it is,
-- stored byte for byte so its id stays the same and downstream inboxes answer with their stored
-- replies) and sets the next deadline with back-off (deadline_attempts). A finished order has none.
-- cancel_requested_reason is why the order asked payment to void it (timeout or
-- cancelled_by_customer); it becomes cancel_reason when payment's void arrives.
-- Orders created before this migration have no deadline: nothing to republish is stored for them.
ALTER TABLE orders
    ADD COLUMN cancel_requested_reason text        NOT NULL DEFAULT '',
    ADD COLUMN deadline_at             timestamptz,
    ADD COLUMN deadline_attempts       integer     NOT NULL DEFAULT 0 CHECK (deadline_attempts >= 0),
    ADD COLUMN next_event              bytea,
    ADD CONSTRAINT orders_deadline_has_event CHECK (deadline_at IS NULL OR next_event IS NOT NULL);
-- The deadline pass's claim: overdue orders, most overdue first. Partial, so finished orders
-- (almost all of them) cost the index nothing.
CREATE INDEX orders_due ON orders (deadline_at) WHERE deadline_at IS NOT NULL;

-- +goose Down
DROP INDEX orders_due;
ALTER TABLE orders
    DROP CONSTRAINT orders_deadline_has_event,
    DROP COLUMN next_event,
    DROP COLUMN deadline_attempts,
    DROP COLUMN deadline_at,
    DROP COLUMN cancel_requested_reason;
