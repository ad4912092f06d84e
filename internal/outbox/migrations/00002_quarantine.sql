-- +goose Up
-- A row that can never be published (it does not decode, or the broker refuses it while taking
-- the others) is quarantined instead of failing every sweep and holding back the rows after it.
-- To try one again: UPDATE outbox SET quarantined_at = NULL, quarantine_reason = NULL WHERE id = ...
ALTER TABLE outbox ADD COLUMN quarantined_at timestamptz, ADD COLUMN quarantine_reason text;
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL AND quarantined_at IS NULL;

-- +goose Down
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
ALTER TABLE outbox DROP COLUMN quarantined_at, DROP COLUMN quarantine_reason;
