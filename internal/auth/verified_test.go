package auth_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/auth/authtest"
)

func TestVerifiedTokensServeATokenUntilItsTimeAndNoOtherBytes(t *testing.T) {
	var c auth.VerifiedTokens[string]
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c.Put("token-a", "alice", now.Add(time.Minute))
	if who, ok := c.Get("token-a", now.Add(59*time.Second)); !ok || who != "alice" {
		t.Errorf("Get before its time = %q, %v; want alice", who, ok)
	}
	if who, ok := c.Get("token-a", now.Add(time.Minute)); ok {
		t.Errorf("Get at its time = %q; want a miss: the token has expired", who)
	}
	if who, ok := c.Get("token-a ", now); ok {
		t.Errorf("Get of other bytes = %q; want a miss", who)
	}
	for i := range 5000 { // far past the bound: it stays bounded and keeps working
		c.Put("t"+strconv.Itoa(i), "x", now.Add(time.Minute))
	}
	if who, ok := c.Get("t4999", now); !ok || who != "x" {
		t.Errorf("the last token put = %q, %v; want it served", who, ok)
	}
}

// A token changed by one byte after its original passed is checked again, and fails.
func TestVerifyDoesNotServeATamperedTokenFromTheCache(t *testing.T) {
	keys := authtest.NewKeys(t)
	v := keys.Verifier()
	token := keys.Token(t, "u1", auth.RoleUser)
	for range 2 {
		if p, err := v.Verify(context.Background(), token); err != nil || p.UserID != "u1" {
			t.Fatalf("Verify = %+v, %v", p, err)
		}
	}
	i, swap := len(token)-2, "A" // a character of the signature
	if token[i] == 'A' {
		swap = "B"
	}
	_, err := v.Verify(context.Background(), token[:i]+swap+token[i+1:])
	requireInvalidToken(t, err)
}

// BenchmarkVerify is what every authenticated request to order or inventory pays: with a token
// reused for many requests (verified once), and with a new token each time.
func BenchmarkVerify(b *testing.B) {
	keys := authtest.NewKeys(b)
	b.Run("same token", func(b *testing.B) {
		v, token := keys.Verifier(), keys.Token(b, "u1", auth.RoleUser)
		for b.Loop() {
			if _, err := v.Verify(context.Background(), token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new token", func(b *testing.B) {
		tokens := make([]string, 64)
		for i := range tokens {
			tokens[i] = keys.Token(b, "u"+strconv.Itoa(i), auth.RoleUser)
		}
		i := 0
		for b.Loop() {
			if _, err := keys.Verifier().Verify(context.Background(), tokens[i%len(tokens)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
