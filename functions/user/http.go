package user

import (
	"net/http"
	"time"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// userView is the JSON of an account: the signup and /me responses.
type userView struct {
	ID    string    `json:"id"`
	Email string    `json:"email"`
	Role  auth.Role `json:"role"`
}

// loginView is the login response (docs/CONTRACTS.md, "REST").
type loginView struct {
	AccessToken string `json:"access_token"`
	ExpiresAt   string `json:"expires_at"` // RFC 3339, UTC
}

// errBadCredentials is the one answer for an unknown email and a wrong password alike.
var errBadCredentials = apperr.Errorf(apperr.Unauthorized, "invalid email or password")

// signup creates an account: 201 {id, email, role}. Errors: 400 (bad body, email or password),
// 403 (an admin's email: admin accounts come from configuration), 409 (email taken, in any
// case), 413, 415, 429 (attemptLimits), 503 (the password hash queue is full).
func (f *Function) signup(w http.ResponseWriter, r *http.Request) error {
	c, err := f.limitedCredentials(r)
	if err != nil {
		return err
	}
	email, err := validateSignup(c)
	if err != nil {
		return err
	}
	if f.admins[email] {
		// Admin accounts are made by configuration (the bootstrap admin), never by signup: else
		// whoever signs up first with an admin's email, which nobody verifies, becomes admin.
		return errAdminSignup
	}
	hash, err := f.hasher.Hash(r.Context(), c.Password)
	if err != nil {
		return err
	}
	u, err := store{db: f.Pool}.CreateUser(r.Context(), email, hash)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, userView{ID: u.ID, Email: u.Email, Role: f.Role(u.Email)})
	return nil
}

// errAdminSignup refuses signup for an email configured as an admin's.
var errAdminSignup = apperr.Errorf(apperr.Forbidden, "this email cannot be used to sign up")

// login checks credentials and issues an access token, in the body and as an HttpOnly cookie.
// An unknown email costs the same password hash as a wrong password and gets the same 401, so
// neither the answer nor its timing tells whether an account exists. Errors: 400, 401, 413, 415,
// 429 (attemptLimits), 503 (the password hash queue is full).
func (f *Function) login(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	c, err := f.limitedCredentials(r)
	if err != nil {
		return err
	}
	var u User
	email, ok := canonicalEmail(c.Email)
	if ok {
		u, err = store{db: f.Pool}.UserByEmail(ctx, email)
		if err != nil && apperr.CodeOf(err) != apperr.NotFound {
			return err
		}
		ok = err == nil
	}
	if !ok {
		if err := f.hasher.VerifyDummy(ctx, c.Password); err != nil {
			return err
		}
		return errBadCredentials
	}
	match, err := f.hasher.Verify(ctx, c.Password, u.PasswordHash)
	if err != nil {
		return err
	}
	if !match {
		return errBadCredentials
	}
	now := f.now()
	token, expires, err := f.signer.Sign(auth.Principal{UserID: u.ID, Email: u.Email, Role: f.Role(u.Email)}, now)
	if err != nil {
		return err
	}
	http.SetCookie(w, f.cookie(token, int(expires.Sub(now)/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusOK, loginView{AccessToken: token, ExpiresAt: expires.UTC().Format(time.RFC3339)})
	return nil
}

// limitedCredentials reads a signup or login body within the attempt limits: the client's is
// checked before the body is read, the account's once its email is known. Errors: those of
// decodeCredentials, and TooManyRequests.
func (f *Function) limitedCredentials(r *http.Request) (credentials, error) {
	now := f.now()
	if err := f.limits.checkClient(r, now); err != nil {
		return credentials{}, err
	}
	c, err := decodeCredentials(r)
	if err != nil {
		return c, err
	}
	return c, f.limits.checkAccount(c.Email, now)
}

// logout clears the cookie: 204. It needs no token (there is nothing to revoke: tokens are
// short-lived and stateless), so it also works with an expired one.
func (f *Function) logout(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, f.cookie("", -1))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// me returns the caller's account: 200 {id, email, role}, the role as configured now. Errors:
// 401 for a missing or invalid token, or one whose account no longer exists.
func (f *Function) me(w http.ResponseWriter, r *http.Request) error {
	p, err := f.verifier.Authenticate(r)
	if err != nil {
		return err
	}
	u, err := store{db: f.Pool}.UserByID(r.Context(), p.UserID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return apperr.Errorf(apperr.Unauthorized, "invalid token")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusOK, userView{ID: u.ID, Email: u.Email, Role: f.Role(u.Email)})
	return nil
}

// keys serves the public signing key as a JWK set, for verifiers configured with AUTH_JWKS_URL.
func (f *Function) keys(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpapi.WriteJSON(w, http.StatusOK, f.jwks)
	return nil
}

// cookie is the access token cookie: HttpOnly (no script can read it), SameSite=Strict (no
// cross-site request carries it), Path=/ (every function behind the gateway sees it), Secure
// unless configured for plain HTTP. maxAge < 0 deletes it.
func (f *Function) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: auth.CookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: f.secure, SameSite: http.SameSiteStrictMode}
}
