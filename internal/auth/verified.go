package auth

import (
	"sync"
	"time"
)

// VerifiedTokens remembers tokens that passed every check, with what they proved, until they
// expire: a client reuses one token for many requests (a user for its 15 minutes, a Trigger's
// dispatcher for a third of its token's life), and an Ed25519 check costs ~60 µs, a tenth of a
// saga step. Keyed by the whole token, so only the very same bytes hit. The zero value is ready.
// What a hit still needs checking is the caller's: the REST Verifier checks that the token's key
// is still in the key set.
type VerifiedTokens[T any] struct {
	mu     sync.Mutex
	tokens map[string]verifiedToken[T]
}

type verifiedToken[T any] struct {
	proved T
	until  time.Time
}

// maxVerifiedTokens bounds the cache; when full it is emptied (a few signature checks, then
// warm again).
const maxVerifiedTokens = 1024

// Get returns what token proved when it passed before and is still good at now.
func (c *VerifiedTokens[T]) Get(token string, now time.Time) (T, bool) {
	c.mu.Lock()
	hit, ok := c.tokens[token]
	c.mu.Unlock()
	if !ok || !now.Before(hit.until) {
		var none T
		return none, false
	}
	return hit.proved, true
}

// Put remembers that token proved proved, until until (its expiry, with any leeway).
func (c *VerifiedTokens[T]) Put(token string, proved T, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens == nil || len(c.tokens) >= maxVerifiedTokens {
		c.tokens = make(map[string]verifiedToken[T])
	}
	c.tokens[token] = verifiedToken[T]{proved: proved, until: until}
}
