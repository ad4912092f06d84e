package user

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/postgres"
)

// User is a stored account.
type User struct {
	ID           string    `db:"id"`
	Email        string    `db:"email"` // canonical: trimmed, lower case
	PasswordHash string    `db:"password_hash"`
	CreatedAt    time.Time `db:"created_at"`
}

// userColumns are the columns a User is mapped from, by its db tags.
const userColumns = `id::text AS id, email, password_hash, created_at`

// createUser stores a new user. Errors: Conflict when the email is taken; others are transient.
func createUser(ctx context.Context, db postgres.DBTX, email, passwordHash string) (User, error) {
	u := User{ID: uuid.NewString(), Email: email, PasswordHash: passwordHash}
	err := db.QueryRow(ctx, `INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3) RETURNING created_at`,
		u.ID, u.Email, u.PasswordHash).Scan(&u.CreatedAt)
	if postgres.IsUniqueViolation(err) {
		return User{}, apperr.Errorf(apperr.Conflict, "email is already registered")
	}
	if err != nil {
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

// ensureUser stores a user unless one with email exists, and reports whether it did. It is safe
// for replicas racing at startup: the loser's insert does nothing.
func ensureUser(ctx context.Context, db postgres.DBTX, email, passwordHash string) (bool, error) {
	tag, err := db.Exec(ctx, `INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING`,
		uuid.NewString(), email, passwordHash)
	if err != nil {
		return false, fmt.Errorf("insert user: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// userExists reports whether email is registered.
func userExists(ctx context.Context, db postgres.DBTX, email string) (bool, error) {
	var exists bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)`, email).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("look up user: %w", err)
	}
	return exists, nil
}

// userByEmail returns the user with the canonical email. Errors: NotFound; others are transient.
func userByEmail(ctx context.Context, db postgres.DBTX, email string) (User, error) {
	return readUser(ctx, db, `SELECT `+userColumns+` FROM users WHERE email = $1`, email)
}

// userByID returns the user with id. Errors: NotFound (also for an id that is not a UUID);
// others are transient.
func userByID(ctx context.Context, db postgres.DBTX, id string) (User, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return User{}, errNoUser
	}
	return readUser(ctx, db, `SELECT `+userColumns+` FROM users WHERE id = $1`, uid)
}

var errNoUser = apperr.Errorf(apperr.NotFound, "no such user")

// readUser runs a query for one user. Errors: NotFound; others are transient.
func readUser(ctx context.Context, db postgres.DBTX, sql string, args ...any) (User, error) {
	u, err := postgres.QueryOne[User](ctx, db, errNoUser, sql, args...)
	if err != nil && !errors.Is(err, errNoUser) {
		return User{}, fmt.Errorf("read user: %w", err)
	}
	return u, err
}
