package user

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkLogin measures a login with the production argon2id parameters, for a known account
// with the right and the wrong password and for an unknown email: the three should cost the same.
func BenchmarkLogin(b *testing.B) {
	fx := newFixture(b, func(c *Config) { c.hashParams = &defaultArgon2 })
	if w := post(fx.h, "/signup", []byte(creds("bench@example.com", "password-1"))); w.Code != http.StatusCreated {
		b.Fatal(w.Code, w.Body)
	}
	for _, c := range []struct {
		name, email, password string
		status                int
	}{
		{"ok", "bench@example.com", "password-1", http.StatusOK},
		{"wrong password", "bench@example.com", "password-2", http.StatusUnauthorized},
		{"unknown email", "nobody@example.com", "password-1", http.StatusUnauthorized},
	} {
		body := []byte(creds(c.email, c.password))
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if w := post(fx.h, "/login", body); w.Code != c.status {
					b.Fatal(w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkMe measures an authenticated read: token verification plus one indexed query.
func BenchmarkMe(b *testing.B) {
	fx := newFixture(b, nil)
	post(fx.h, "/signup", []byte(creds("bench@example.com", "password-1")))
	w := post(fx.h, "/login", []byte(creds("bench@example.com", "password-1")))
	token := w.Result().Cookies()[0].Value
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, _ := http.NewRequest("GET", "/me", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			fx.h.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				panic(fmt.Sprint(rec.Code, rec.Body))
			}
		}
	})
}
