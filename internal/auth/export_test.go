package auth

import (
	"net/http"
	"time"
)

// NewJWKSForTest is JWKS with its intervals and clock under the test's control.
func NewJWKSForTest(url string, client *http.Client, interval, maxAge time.Duration, now func() time.Time) KeyFunc {
	return newJWKS(url, client, interval, maxAge, now).ed25519Key
}

// JWKSRetryInterval is how long a failed fetch holds off the next one.
const JWKSRetryInterval = jwksRetryInterval
