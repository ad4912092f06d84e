-- +goose Up
-- One row per event and per subscriber it failed for: the broker may dead-letter the same event
-- more than once (at least once into the sink too), and one event fans out to several Triggers,
-- each of which can fail on its own.
CREATE TABLE dead_letters (
    id              uuid        PRIMARY KEY,
    -- sha256 of (event_source, event_id, destination), length-prefixed: unique like the three,
    -- but of a fixed size, so no attribute is too long for the index.
    dedup_key       bytea       NOT NULL UNIQUE,
    event_source    text        NOT NULL,
    event_id        text        NOT NULL,
    destination     text        NOT NULL,
    type            text        NOT NULL,
    order_id        text        NOT NULL,
    -- The event as received, structured-mode CloudEvent JSON, byte for byte.
    event           bytea       NOT NULL,
    error_code      integer     NOT NULL,
    error_data      text        NOT NULL,
    status          text        NOT NULL
        CHECK (status IN ('pending', 'redriving', 'delivered', 'failed_permanently')),
    retryable       boolean     NOT NULL,
    attempts        integer     NOT NULL CHECK (attempts >= 0),
    replays         integer     NOT NULL DEFAULT 0 CHECK (replays >= 0),
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    next_attempt_at timestamptz,
    last_error      text        NOT NULL DEFAULT '',
    -- Only the redrive's own states are scheduled.
    CHECK ((status IN ('pending', 'redriving')) = (next_attempt_at IS NOT NULL))
);

-- What the redrive claims: due rows only, so the index stays as small as the backlog.
CREATE INDEX dead_letters_due ON dead_letters (next_attempt_at) WHERE status IN ('pending', 'redriving');
-- The list is newest first.
CREATE INDEX dead_letters_last_seen ON dead_letters (last_seen DESC, id);

-- +goose Down
DROP TABLE dead_letters;
