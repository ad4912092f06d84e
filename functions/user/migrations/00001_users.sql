-- +goose Up
-- Users of the system. email is stored canonical (trimmed, lower case), so the UNIQUE constraint
-- makes sign-up case-insensitive. password_hash is a PHC string ($argon2id$v=19$m=..,t=..,p=..$salt$hash)
-- carrying its own parameters, so they can be raised later without a migration. The role is not
-- stored: it follows the configuration (ADMIN_EMAILS, BOOTSTRAP_ADMIN_EMAIL) at each login.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE users;
