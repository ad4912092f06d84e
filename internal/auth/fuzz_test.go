package auth_test

import (
	"context"
	"testing"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/auth/authtest"
)

// FuzzVerify feeds arbitrary strings to the token parser. Whatever the input, Verify must not
// panic, must reject with exactly "invalid token", and may accept only a token our key signed
// (whose principal is then one of the seeds').
func FuzzVerify(f *testing.F) {
	keys := authtest.NewKeys(f)
	v := keys.Verifier()
	valid := map[auth.Principal]bool{}
	for _, p := range []auth.Principal{{UserID: "u1", Email: "u1@example.com", Role: auth.RoleUser},
		{UserID: "a1", Email: "a1@example.com", Role: auth.RoleAdmin}} {
		valid[p] = true
		f.Add(keys.Token(f, p.UserID, p.Role))
	}
	for _, bad := range keys.BadTokens(f) {
		f.Add(bad.Token)
	}
	f.Add("")
	f.Add("..")
	f.Add("e30.e30.")
	f.Add(`eyJhbGciOiJFZERTQSIsImtpZCI6W119.e30.AA`)
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(context.Background(), token)
		if err != nil {
			requireInvalidToken(t, err)
			return
		}
		if !valid[p] {
			t.Fatalf("accepted a token we did not sign: %q → %+v", token, p)
		}
	})
}
