package user

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

func credentialSeeds(f *testing.F) {
	for _, s := range []string{
		creds("alice@example.com", "password-1"),
		creds("  Alice@Example.COM ", "correct horse battery staple"),
		creds("a@b", "12345678"),
		creds("ünï@ëxample.com", strings.Repeat("é", 8)),
		creds("alice@example.com", strings.Repeat("😀", maxPasswordChars)),
		`{"email":"alice@example.com","password":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"}`,
		`{"email":"\"a b\"@example.com","password":"password-1"}`,
		`{"email":"Alice <alice@example.com>","password":"password-1"}`,
		`{"email":"alice@[127.0.0.1]","password":"password-1"}`,
		`{"email":"alice@example.com","password":"password-1","x":1}`,
		`{"email":1}`, `{"email":"a@b.c","password":"\ud800\ud800\ud800\ud800\ud800\ud800\ud800\ud800"}`,
		`{`, `[]`, `null`, ``, "\xff\xfe",
	} {
		f.Add([]byte(s))
	}
}

// FuzzCredentials checks the signup/login body path without a database: decoding and validation
// never panic, reject only with Invalid, and accept only what is canonical and within limits.
func FuzzCredentials(f *testing.F) {
	credentialSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var c credentials
		if err := httpapi.DecodeBytes(body, &c); err != nil {
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Fatalf("decode error code %s: %v", apperr.CodeOf(err), err)
			}
			return
		}
		email, err := validateSignup(c)
		if err != nil {
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Fatalf("validate error code %s: %v", apperr.CodeOf(err), err)
			}
			return
		}
		if again, ok := canonicalEmail(email); !ok || again != email {
			t.Fatalf("canonical email %q is not canonical: %q %v", email, again, ok)
		}
		if email != strings.ToLower(strings.TrimSpace(c.Email)) || len(email) > maxEmailBytes || strings.Count(email, "@") < 1 {
			t.Fatalf("accepted email %q from %q", email, c.Email)
		}
		if n := utf8.RuneCountInString(c.Password); n < minPasswordChars || n > maxPasswordChars {
			t.Fatalf("accepted a password of %d characters", n)
		}
	})
}

// FuzzSignupLogin sends arbitrary bodies to POST /signup and POST /login on the real database.
// Each answer must be one the contract allows, with a JSON error body, never a 5xx; a body that
// signs up must then log in, and a second signup with it must conflict.
func FuzzSignupLogin(f *testing.F) {
	credentialSeeds(f)
	fx := newFixture(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := post(fx.h, "/signup", body)
		switch w.Code {
		case http.StatusCreated:
			var c credentials
			if err := json.Unmarshal(body, &c); err != nil {
				t.Fatalf("signed up with an undecodable body %q", body)
			}
			if l := post(fx.h, "/login", body); l.Code != http.StatusOK {
				t.Fatalf("signed up with %q but login is %d %s", body, l.Code, l.Body)
			}
			if again := post(fx.h, "/signup", body); again.Code != http.StatusConflict {
				t.Fatalf("second signup with %q is %d", body, again.Code)
			}
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			jsonError(t, w)
		default:
			t.Fatalf("signup with %q: status %d %s", body, w.Code, w.Body)
		}
		switch l := post(fx.h, "/login", body); l.Code {
		case http.StatusOK:
			if len(l.Result().Cookies()) != 1 {
				t.Fatalf("login without a cookie")
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
			jsonError(t, l)
		default:
			t.Fatalf("login with %q: status %d %s", body, l.Code, l.Body)
		}
	})
}

func post(h http.Handler, path string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func jsonError(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var e map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e) != 1 || e["error"] == "" {
		t.Fatalf("status %d with body %q", w.Code, w.Body)
	}
}
