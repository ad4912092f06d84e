package user

import (
	"net/http"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// Limits on what signup and login accept.
const (
	minPasswordChars = 8   // NIST SP 800-63B's minimum for a user-chosen secret
	maxPasswordChars = 128 // Unicode code points; generous for passphrases, bounded for hashing
	maxEmailBytes    = 254 // RFC 5321's limit on a forward path, less the angle brackets
	// maxCredentialsBytes bounds a signup or login body, well below httpapi.MaxBodyBytes: the
	// longest valid email and password fit even when every character is \u-escaped.
	maxCredentialsBytes = 4 << 10
)

// credentials is the body of POST /signup and POST /login.
type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// decodeCredentials reads a signup or login body. Errors: UnsupportedType (415), TooLarge (413)
// or Invalid (400), as httpapi.Decode, with the tighter size limit.
func decodeCredentials(r *http.Request) (credentials, error) {
	var c credentials
	err := httpapi.DecodeLimit(r, &c, maxCredentialsBytes)
	return c, err
}

// canonicalEmail returns email trimmed and in lower case, the form stored and compared, so that
// addresses differing only in case are one account. ok is false unless it is a plain address
// (local@domain, no display name or angle brackets) of at most maxEmailBytes.
func canonicalEmail(email string) (canonical string, ok bool) {
	email = strings.ToLower(strings.TrimSpace(email))
	if len(email) < 3 || len(email) > maxEmailBytes || !utf8.ValidString(email) {
		return "", false
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return "", false
	}
	local, domain, found := strings.Cut(email, "@")
	if !found || local == "" || domain == "" || strings.ContainsAny(email, " \t\r\n\"<>()[]\\,;:") {
		return "", false
	}
	return email, true
}

// validateSignup checks a signup's credentials and returns the canonical email. Errors: Invalid.
func validateSignup(c credentials) (string, error) {
	email, ok := canonicalEmail(c.Email)
	if !ok {
		return "", apperr.Errorf(apperr.Invalid, "email must be a valid address of at most %d bytes", maxEmailBytes)
	}
	if err := validatePassword(c.Password); err != nil {
		return "", err
	}
	return email, nil
}

// validatePassword enforces the length rules, counted in characters (code points). Errors: Invalid.
func validatePassword(password string) error {
	if !utf8.ValidString(password) {
		return apperr.Errorf(apperr.Invalid, "password must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(password); n < minPasswordChars || n > maxPasswordChars {
		return apperr.Errorf(apperr.Invalid, "password must be %d to %d characters", minPasswordChars, maxPasswordChars)
	}
	return nil
}
