package user

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// argon2Params are the argon2id parameters of a password hash.
//
// The defaults are OWASP's first recommendation for argon2id (Password Storage Cheat Sheet): 19 MiB
// of memory, 2 passes, 1 lane, a 16-byte random salt and a 32-byte key. On the reference machine
// (2 cores) one hash takes about 22 ms and allocates 19 MiB, which keeps a login well under the
// REST latency budget and a function pod small, while costing an offline guesser the same per
// guess. Each stored hash carries its parameters, so raising them later affects new hashes only.
type argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

var defaultArgon2 = argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters read back from a stored hash, so a damaged row cannot make one login
// allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB = 256 * 1024
	maxTime      = 16
	maxThreads   = 16
)

var errBadHash = errors.New("stored password hash is malformed")

// hasher hashes and checks passwords. At most GOMAXPROCS hashes run at once: argon2id is
// memory-hard by design, so unbounded concurrent logins would multiply its 19 MiB per hash into
// an out-of-memory kill. Up to queueFactor times as many wait their turn (a few hashes' time,
// tens of milliseconds) and give up when their request is cancelled; beyond that a request is
// refused at once (errBusy, 503 with Retry-After) rather than left waiting for as long as a
// flood lasts.
type hasher struct {
	params   argon2Params
	slots    chan struct{}
	waiting  atomic.Int64 // requests waiting for a slot
	maxQueue int64
	runs     atomic.Int64 // key derivations so far; the tests count them

	dummySalt []byte // for dummy checks, which must cost what a real one costs
	dummyKey  []byte
}

// queueFactor is how many waiting hashes the hasher allows per running one.
const queueFactor = 8

// errBusy refuses a hash when the queue is full.
var errBusy = httpapi.RetryAfter(apperr.Errorf(apperr.Unavailable, "too many sign-ins at once; try again shortly"), time.Second)

func newHasher(p argon2Params) *hasher {
	procs := runtime.GOMAXPROCS(0)
	h := &hasher{params: p, slots: make(chan struct{}, procs), maxQueue: int64(queueFactor * procs),
		dummySalt: make([]byte, p.SaltLen), dummyKey: make([]byte, p.KeyLen)}
	_, _ = rand.Read(h.dummySalt)
	_, _ = rand.Read(h.dummyKey)
	return h
}

// derive runs argon2id under the concurrency limit. Errors: errBusy when the queue is full,
// ctx's.
func (h *hasher) derive(ctx context.Context, password string, salt []byte, p argon2Params) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-h.slots }()
	h.runs.Add(1)
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// acquire takes a hashing slot: at once if one is free, after a wait if the queue has room.
// Errors: errBusy, ctx's.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxQueue {
		h.waiting.Add(-1)
		return errBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Hash returns password's argon2id hash in PHC string form.
func (h *hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.Memory, h.params.Time, h.params.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches encoded, comparing in constant time. Errors: ctx's,
// or errBadHash for a hash it cannot read.
func (h *hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	p, salt, want, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	got, err := h.derive(ctx, password, salt, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy does the work of a Verify that fails, for a login whose email is unknown, so that
// response time does not tell whether an account exists. Errors: ctx's.
func (h *hasher) VerifyDummy(ctx context.Context, password string) error {
	got, err := h.derive(ctx, password, h.dummySalt, h.params)
	if err != nil {
		return err
	}
	subtle.ConstantTimeCompare(got, h.dummyKey)
	return nil
}

// parseHash reads a "$argon2id$v=19$m=M,t=T,p=P$salt$key" string.
func parseHash(encoded string) (argon2Params, []byte, []byte, error) {
	var p argon2Params
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, errBadHash
	}
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil || n != 3 {
		return p, nil, nil, errBadHash
	}
	if p.Memory < 8 || p.Memory > maxMemoryKiB || p.Time < 1 || p.Time > maxTime || threads < 1 || threads > maxThreads ||
		p.Memory < 8*threads {
		return p, nil, nil, errBadHash
	}
	p.Threads = uint8(threads)
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return p, nil, nil, errBadHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
