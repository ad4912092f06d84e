package user

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// maxLimiterKeys bounds each limiter's memory: one token bucket (about 100 bytes) per client
// address or account seen recently, so an attacker rotating addresses or emails costs at most a
// few MiB.
const maxLimiterKeys = 10_000

// keyedLimiter is a token bucket per key (a client address, an account): perMinute attempts a
// minute, as many at once. Its map is bounded (maxLimiterKeys): when full, buckets that have
// refilled (equal to fresh ones, so forgetting them loses nothing) are dropped first, and if
// that is not enough, arbitrary ones, which only ever forgives.
type keyedLimiter struct {
	limit rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newKeyedLimiter(perMinute, maxKeys int) *keyedLimiter {
	return &keyedLimiter{limit: rate.Limit(float64(perMinute) / 60), burst: perMinute, max: maxKeys,
		buckets: map[string]*rate.Limiter{}}
}

// wait takes one attempt for key at now. It returns 0 if the attempt may go on, otherwise how
// long until it could (nothing is taken then).
func (l *keyedLimiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// evict makes room: refilled buckets go, then arbitrary ones down to 90% of the bound, so a
// map full of active buckets is not rescanned on every new key.
func (l *keyedLimiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max*9/10 {
			break
		}
		delete(l.buckets, k)
	}
}

// size is how many buckets the limiter holds (the tests check the bound).
func (l *keyedLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// attemptLimits are the limits on /signup and /login, which each cost a password hash: per
// client address (httpapi.ClientIP, set by the gateway) and per account (the email as given,
// canonicalised when it is an address), so neither many accounts from one client nor one
// account from many clients can be guessed at speed.
type attemptLimits struct {
	client, account *keyedLimiter
}

func newAttemptLimits(perClient, perAccount int) *attemptLimits {
	return &attemptLimits{client: newKeyedLimiter(perClient, maxLimiterKeys), account: newKeyedLimiter(perAccount, maxLimiterKeys)}
}

// checkClient takes one attempt of r's client. Errors: apperr TooManyRequests with Retry-After.
func (a *attemptLimits) checkClient(r *http.Request, now time.Time) error {
	if d := a.client.wait(httpapi.ClientIP(r), now); d > 0 {
		return tooMany("from this address", d)
	}
	return nil
}

// checkAccount takes one attempt on email's account. Errors: apperr TooManyRequests with
// Retry-After.
func (a *attemptLimits) checkAccount(email string, now time.Time) error {
	key, ok := canonicalEmail(email)
	if !ok {
		key = strings.ToLower(strings.TrimSpace(email)) // still one bucket per string tried
	}
	if d := a.account.wait(key, now); d > 0 {
		return tooMany("for this account", d)
	}
	return nil
}

func tooMany(what string, d time.Duration) error {
	seconds := int(math.Ceil(d.Seconds()))
	return httpapi.RetryAfter(apperr.Errorf(apperr.TooManyRequests,
		"too many attempts %s; try again in %d s", what, seconds), d)
}

// The default limits (Config.AttemptsPerClient, Config.AttemptsPerAccount; 0 means these): a
// person mistyping a password, or a few people behind one NAT address, stay far below them; a
// guesser gets 10 tries a minute at one account.
const (
	defaultAttemptsPerClient  = 60
	defaultAttemptsPerAccount = 10
)

// limitsFromConfig is cfg's attempt limits, 0 meaning the default. Errors: one naming the
// setting, for a negative value.
func limitsFromConfig(cfg Config) (*attemptLimits, error) {
	perClient, perAccount := cfg.AttemptsPerClient, cfg.AttemptsPerAccount
	if perClient < 0 || perAccount < 0 {
		return nil, fmt.Errorf("AUTH_ATTEMPTS_PER_CLIENT and AUTH_ATTEMPTS_PER_ACCOUNT must not be negative (got %d, %d)", perClient, perAccount)
	}
	if perClient == 0 {
		perClient = defaultAttemptsPerClient
	}
	if perAccount == 0 {
		perAccount = defaultAttemptsPerAccount
	}
	return newAttemptLimits(perClient, perAccount), nil
}
