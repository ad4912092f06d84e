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

// store is the users schema's queries, run on the pool. Driver errors are translated to apperr
// here and nowhere else.
type store struct {
	db postgres.DBTX
}

// CreateUser stores a new user. Errors: Conflict when the email is taken; others are transient.
func (s store) CreateUser(ctx context.Context, email, passwordHash string) (User, error) {
	u := User{ID: uuid.NewString(), Email: email, PasswordHash: passwordHash}
	err := s.db.QueryRow(ctx, `INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3) RETURNING created_at`,
		u.ID, u.Email, u.PasswordHash).Scan(&u.CreatedAt)
	if postgres.IsUniqueViolation(err) {
		return User{}, apperr.Errorf(apperr.Conflict, "email is already registered")
	}
	if err != nil {
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

// EnsureUser stores a user unless one with email exists, and reports whether it did. It is safe
// for replicas racing at startup: the loser's insert does nothing.
func (s store) EnsureUser(ctx context.Context, email, passwordHash string) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING`,
		uuid.NewString(), email, passwordHash)
	if err != nil {
		return false, fmt.Errorf("insert user: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// UserExists reports whether email is registered.
func (s store) UserExists(ctx context.Context, email string) (bool, error) {
	var exists bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)`, email).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("look up user: %w", err)
	}
	return exists, nil
}

// UserByEmail returns the user with the canonical email. Errors: NotFound; others are transient.
func (s store) UserByEmail(ctx context.Context, email string) (User, error) {
	return s.readUser(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email)
}

// UserByID returns the user with id. Errors: NotFound (also for an id that is not a UUID);
// others are transient.
func (s store) UserByID(ctx context.Context, id string) (User, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return User{}, errNoUser
	}
	return s.readUser(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, uid)
}

var errNoUser = apperr.Errorf(apperr.NotFound, "no such user")

// readUser runs a query for one user. Errors: NotFound; others are transient.
func (s store) readUser(ctx context.Context, sql string, args ...any) (User, error) {
	u, err := postgres.QueryOne[User](ctx, s.db, errNoUser, sql, args...)
	if err != nil && !errors.Is(err, errNoUser) {
		return User{}, fmt.Errorf("read user: %w", err)
	}
	return u, err
}
