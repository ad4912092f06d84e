package user

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/auth/authtest"
	"github.com/ordersaga/ordersaga/internal/function"
	"github.com/ordersaga/ordersaga/internal/postgres/pgtest"
)

// cheapArgon2 keeps the tests fast (and the race detector patient); TestPasswordHashDefaults
// covers the real parameters.
var cheapArgon2 = argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type fixture struct {
	fn   *Function
	h    http.Handler
	keys *authtest.Keys
	cfg  Config
}

// newFixture opens the function on its own database with a test key; change adjusts the config.
func newFixture(t testing.TB, change func(*Config)) *fixture {
	t.Helper()
	keys := authtest.NewKeys(t)
	cfg := Config{
		DatabaseURL: pgtest.NewSchema(t, "ordersaga_users", Schema),
		PrivateKey:  keys.PrivateKeyPEM(),
		TokenTTL:    15 * time.Minute,
		hashParams:  &cheapArgon2,
	}
	if change != nil {
		change(&cfg)
	}
	fn, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Close)
	return &fixture{fn: fn, h: function.NewHandler(fn), keys: keys, cfg: cfg}
}

// do serves one request; a body is sent as JSON unless header says otherwise.
func (fx *fixture) do(t *testing.T, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	return w
}

func (fx *fixture) users(t *testing.T) int {
	t.Helper()
	var n int
	if err := fx.fn.Pool.QueryRow(context.Background(), `SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func creds(email, password string) string {
	b, _ := json.Marshal(credentials{Email: email, Password: password})
	return string(b)
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, body %s", ct, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
	return v
}

func expectStatus(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
}

// expectError checks status and that the body is exactly {"error": message}.
func expectError(t *testing.T, w *httptest.ResponseRecorder, status int, message string) {
	t.Helper()
	expectStatus(t, w, status)
	body := decode[map[string]string](t, w)
	if len(body) != 1 || body["error"] == "" || (message != "" && body["error"] != message) {
		t.Fatalf("error body = %s, want {\"error\": %q}", w.Body, message)
	}
}

func (fx *fixture) login(t *testing.T, email, password string) (loginView, *httptest.ResponseRecorder) {
	t.Helper()
	w := fx.do(t, "POST", "/login", creds(email, password))
	expectStatus(t, w, http.StatusOK)
	return decode[loginView](t, w), w
}

func TestSignupLoginMeLogout(t *testing.T) {
	fx := newFixture(t, nil)

	w := fx.do(t, "POST", "/signup", creds("  Alice@Example.com ", "correct horse"))
	expectStatus(t, w, http.StatusCreated)
	u := decode[userView](t, w)
	if u.ID == "" || u.Email != "alice@example.com" || u.Role != auth.RoleUser {
		t.Fatalf("signup = %+v", u)
	}

	before := time.Now().Truncate(time.Second)
	lv, w := fx.login(t, "ALICE@example.com", "correct horse")
	expires, err := time.Parse(time.RFC3339, lv.ExpiresAt)
	if err != nil || expires.Before(before.Add(15*time.Minute)) || expires.After(time.Now().Add(15*time.Minute)) {
		t.Fatalf("expires_at = %q (%v)", lv.ExpiresAt, err)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("login Cache-Control = %q", w.Header().Get("Cache-Control"))
	}
	p, err := fx.keys.Verifier().Verify(context.Background(), lv.AccessToken)
	if err != nil || p != (auth.Principal{UserID: u.ID, Email: u.Email, Role: auth.RoleUser}) {
		t.Fatalf("token principal = %+v, %v", p, err)
	}
	cookie := w.Result().Cookies()[0]
	if cookie.Name != auth.CookieName || cookie.Value != lv.AccessToken {
		t.Fatalf("cookie = %+v", cookie)
	}

	for name, header := range map[string][]string{
		"bearer": {"Authorization", "Bearer " + lv.AccessToken},
		"cookie": {"Cookie", auth.CookieName + "=" + lv.AccessToken},
	} {
		w = fx.do(t, "GET", "/me", "", header...)
		expectStatus(t, w, http.StatusOK)
		if me := decode[userView](t, w); me != u {
			t.Fatalf("%s: /me = %+v, want %+v", name, me, u)
		}
	}

	w = fx.do(t, "POST", "/logout", "", "Cookie", auth.CookieName+"="+lv.AccessToken)
	expectStatus(t, w, http.StatusNoContent)
	cleared := w.Result().Cookies()
	if len(cleared) != 1 || cleared[0].Name != auth.CookieName || cleared[0].Value != "" || cleared[0].MaxAge >= 0 {
		t.Fatalf("logout cookies = %+v", cleared)
	}

	expectError(t, fx.do(t, "GET", "/me", ""), http.StatusUnauthorized, "authentication required")
}

func TestSignupDuplicateEmail(t *testing.T) {
	fx := newFixture(t, nil)
	expectStatus(t, fx.do(t, "POST", "/signup", creds("bob@example.com", "password-1")), http.StatusCreated)
	for _, email := range []string{"bob@example.com", "BOB@EXAMPLE.COM", " Bob@Example.Com"} {
		expectError(t, fx.do(t, "POST", "/signup", creds(email, "password-2")), http.StatusConflict, "email is already registered")
	}
	if n := fx.users(t); n != 1 {
		t.Fatalf("users = %d, want 1", n)
	}
	fx.login(t, "bob@example.com", "password-1") // the first password still holds
}

func TestSignupConcurrentSameEmail(t *testing.T) {
	fx := newFixture(t, nil)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			w := fx.do(t, "POST", "/signup", creds("race@example.com", "password-"+strconv.Itoa(i)))
			mu.Lock()
			codes[w.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusCreated] != 1 || codes[http.StatusConflict] != 7 {
		t.Fatalf("status counts = %v, want one 201 and seven 409", codes)
	}
}

func TestSignupRejectsInvalidCredentials(t *testing.T) {
	fx := newFixture(t, nil)
	long := strings.Repeat("x", maxPasswordChars+1)
	for name, body := range map[string]string{
		"empty email":          creds("", "password-1"),
		"no at":                creds("alice.example.com", "password-1"),
		"no domain":            creds("alice@", "password-1"),
		"no local part":        creds("@example.com", "password-1"),
		"display name":         creds("Alice <alice@example.com>", "password-1"),
		"two addresses":        creds("a@example.com, b@example.com", "password-1"),
		"space inside":         creds("al ice@example.com", "password-1"),
		"email too long":       creds(strings.Repeat("a", 250)+"@example.com", "password-1"),
		"empty password":       creds("alice@example.com", ""),
		"7 characters":         creds("alice@example.com", "1234567"),
		"7 multibyte chars":    creds("alice@example.com", "ééééééé"),
		"129 characters":       creds("alice@example.com", long),
		"129 multibyte chars":  creds("alice@example.com", strings.Repeat("é", maxPasswordChars+1)),
		"missing password":     `{"email":"alice@example.com"}`,
		"null password":        `{"email":"alice@example.com","password":null}`,
		"password not string":  `{"email":"alice@example.com","password":12345678}`,
		"email not string":     `{"email":["alice@example.com"],"password":"password-1"}`,
		"empty object":         `{}`,
		"not an object":        `["alice@example.com","password-1"]`,
		"two objects":          creds("alice@example.com", "password-1") + creds("alice@example.com", "password-1"),
		"trailing garbage":     creds("alice@example.com", "password-1") + "x",
		"unknown field":        `{"email":"alice@example.com","password":"password-1","role":"admin"}`,
		"malformed JSON":       `{"email":"alice@example.com","password":"password-1"`,
		"empty body (as JSON)": ` `,
	} {
		t.Run(name, func(t *testing.T) {
			expectError(t, fx.do(t, "POST", "/signup", body), http.StatusBadRequest, "")
		})
	}
	// The edges that are fine: 8 and 128 characters, multibyte included.
	for i, pw := range []string{"12345678", strings.Repeat("é", 8), strings.Repeat("x", maxPasswordChars), strings.Repeat("😀", maxPasswordChars)} {
		expectStatus(t, fx.do(t, "POST", "/signup", creds("edge"+strconv.Itoa(i)+"@example.com", pw)), http.StatusCreated)
	}
	if n := fx.users(t); n != 4 {
		t.Fatalf("users = %d, want 4", n)
	}
}

// Bad bodies on both endpoints: malformed JSON, wrong types, unknown fields → 400, too large →
// 413, wrong content type → 415; always a JSON error and nothing written.
func TestBadBodies(t *testing.T) {
	fx := newFixture(t, nil)
	huge := creds("alice@example.com", "password-1"+strings.Repeat(" ", maxCredentialsBytes))
	cases := []struct {
		name, body, contentType string
		status                  int
	}{
		{"malformed JSON", `{"email":`, "application/json", 400},
		{"wrong types", `{"email":1,"password":true}`, "application/json", 400},
		{"unknown fields", `{"email":"alice@example.com","password":"password-1","admin":true}`, "application/json", 400},
		{"too large", huge, "application/json", 413},
		{"too large, far beyond the shared limit", strings.Repeat(" ", 200<<10), "application/json", 413},
		{"wrong content type", creds("alice@example.com", "password-1"), "text/plain", 415},
		{"form post", "email=alice%40example.com&password=password-1", "application/x-www-form-urlencoded", 415},
		{"no content type", creds("alice@example.com", "password-1"), "", 415},
		{"JSON with charset is fine but malformed", `{`, "application/json; charset=utf-8", 400},
	}
	for _, path := range []string{"/signup", "/login"} {
		for _, c := range cases {
			t.Run(path+" "+c.name, func(t *testing.T) {
				r := httptest.NewRequest("POST", path, strings.NewReader(c.body))
				if c.contentType != "" {
					r.Header.Set("Content-Type", c.contentType)
				}
				w := httptest.NewRecorder()
				fx.h.ServeHTTP(w, r)
				expectError(t, w, c.status, "")
				if len(w.Result().Cookies()) != 0 {
					t.Fatal("a failed request set a cookie")
				}
			})
		}
	}
	if n := fx.users(t); n != 0 {
		t.Fatalf("users = %d, want 0", n)
	}
}

// The raw Set-Cookie attributes, exactly: HttpOnly, SameSite=Strict, Path=/, Secure unless
// COOKIE_INSECURE, Max-Age matching the token's expiry; the same attributes clear it on logout.
func TestCookieAttributes(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		t.Run("insecure="+strconv.FormatBool(insecure), func(t *testing.T) {
			fx := newFixture(t, func(c *Config) { c.CookieInsecure = insecure; c.TokenTTL = 10 * time.Minute })
			expectStatus(t, fx.do(t, "POST", "/signup", creds("carol@example.com", "password-1")), http.StatusCreated)
			start := time.Now()
			lv, w := fx.login(t, "carol@example.com", "password-1")
			expires, _ := time.Parse(time.RFC3339, lv.ExpiresAt)

			set := w.Header().Values("Set-Cookie")
			if len(set) != 1 {
				t.Fatalf("Set-Cookie = %q", set)
			}
			attrs := strings.Split(set[0], "; ")
			if attrs[0] != auth.CookieName+"="+lv.AccessToken {
				t.Fatalf("cookie value = %q", attrs[0])
			}
			maxAge := -1
			for _, a := range attrs {
				if v, ok := strings.CutPrefix(a, "Max-Age="); ok {
					maxAge, _ = strconv.Atoi(v)
				}
			}
			// The cookie must not outlive the token, and not die more than a second before it.
			cookieEnd := start.Add(time.Duration(maxAge) * time.Second)
			if maxAge < 598 || maxAge > 600 || cookieEnd.After(expires.Add(time.Second)) || cookieEnd.Before(expires.Add(-2*time.Second)) {
				t.Fatalf("Max-Age = %d for expiry %s", maxAge, lv.ExpiresAt)
			}
			want := []string{"Path=/", "Max-Age=" + strconv.Itoa(maxAge), "HttpOnly", "SameSite=Strict"}
			if !insecure {
				want = append(want, "Secure")
			}
			if got := attrs[1:]; !sameSet(got, want) {
				t.Fatalf("attributes = %q, want %q", got, want)
			}

			w = fx.do(t, "POST", "/logout", "")
			set = w.Header().Values("Set-Cookie")
			want = []string{"Path=/", "Max-Age=0", "HttpOnly", "SameSite=Strict"}
			if !insecure {
				want = append(want, "Secure")
			}
			if attrs := strings.Split(set[0], "; "); len(set) != 1 || attrs[0] != auth.CookieName+"=" || !sameSet(attrs[1:], want) {
				t.Fatalf("logout Set-Cookie = %q, want attributes %q", set, want)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// An unknown email and a wrong password get the same answer, and cost the same: exactly one key
// derivation each (the unknown email's against a dummy hash).
func TestLoginSameAnswerForUnknownEmailAndWrongPassword(t *testing.T) {
	fx := newFixture(t, nil)
	expectStatus(t, fx.do(t, "POST", "/signup", creds("dave@example.com", "password-1")), http.StatusCreated)

	attempt := func(email, password string) (*httptest.ResponseRecorder, int64) {
		before := fx.fn.hasher.runs.Load()
		w := fx.do(t, "POST", "/login", creds(email, password))
		return w, fx.fn.hasher.runs.Load() - before
	}
	wrong, wrongRuns := attempt("dave@example.com", "password-2")
	unknown, unknownRuns := attempt("nobody@example.com", "password-1")
	malformed, malformedRuns := attempt("not an email", "password-1")
	for name, w := range map[string]*httptest.ResponseRecorder{"wrong password": wrong, "unknown email": unknown, "malformed email": malformed} {
		expectError(t, w, http.StatusUnauthorized, "invalid email or password")
		if w.Body.String() != wrong.Body.String() || !slices.Equal(w.Header().Values("WWW-Authenticate"), wrong.Header().Values("WWW-Authenticate")) {
			t.Errorf("%s: answer differs: %q", name, w.Body)
		}
		if len(w.Result().Cookies()) != 0 {
			t.Errorf("%s: set a cookie", name)
		}
	}
	if wrongRuns != 1 || unknownRuns != 1 || malformedRuns != 1 {
		t.Fatalf("key derivations: wrong password %d, unknown email %d, malformed email %d; want 1 each", wrongRuns, unknownRuns, malformedRuns)
	}
}

// Every bad token is refused by GET /me with 401 and nothing but "invalid token", by header and
// by cookie alike.
func TestMeRejectsBadTokens(t *testing.T) {
	fx := newFixture(t, nil)
	for _, bad := range fx.keys.BadTokens(t) {
		t.Run(bad.Name, func(t *testing.T) {
			expectError(t, fx.do(t, "GET", "/me", "", "Authorization", "Bearer "+bad.Token), http.StatusUnauthorized, "invalid token")
			expectError(t, fx.do(t, "GET", "/me", "", "Cookie", auth.CookieName+"="+bad.Token), http.StatusUnauthorized, "invalid token")
		})
	}
	// A well-signed token for an account that does not exist is no better.
	expectError(t, fx.do(t, "GET", "/me", "", "Authorization", "Bearer "+fx.keys.Token(t, "3f0c5a52-9d55-4f43-9a8c-0d0a4bf0bb7f", auth.RoleUser)),
		http.StatusUnauthorized, "invalid token")
	expectError(t, fx.do(t, "GET", "/me", "", "Authorization", "Bearer "+fx.keys.Token(t, "not-a-uuid", auth.RoleAdmin)),
		http.StatusUnauthorized, "invalid token")
}

// The JWKS endpoint feeds auth.JWKS, which then verifies a login token: the path the order and
// inventory functions take with AUTH_JWKS_URL, end to end over HTTP.
func TestJWKSEndToEnd(t *testing.T) {
	fx := newFixture(t, nil)
	srv := httptest.NewServer(fx.h)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Keys []map[string]string `json:"keys"`
	}
	err = json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(raw.Keys) != 1 {
		t.Fatalf("jwks: %d %+v %v", resp.StatusCode, raw, err)
	}
	want := map[string]string{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
		"kid": auth.KeyID(fx.keys.Public), "x": auth.PublicJWK(fx.keys.Public).X}
	if k := raw.Keys[0]; len(k) != len(want) || k["kty"] != want["kty"] || k["crv"] != want["crv"] || k["alg"] != want["alg"] ||
		k["use"] != want["use"] || k["kid"] != want["kid"] || k["x"] != want["x"] {
		t.Fatalf("jwk = %v, want %v", k, want)
	}

	verifier, err := auth.Config{JWKSURL: srv.URL + "/.well-known/jwks.json"}.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, body string) *http.Response {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := post("/signup", creds("erin@example.com", "password-1")); resp.StatusCode != 201 {
		t.Fatalf("signup: %s", resp.Status)
	}
	resp = post("/login", creds("erin@example.com", "password-1"))
	var lv loginView
	_ = json.NewDecoder(resp.Body).Decode(&lv)
	resp.Body.Close()
	p, err := verifier.Verify(context.Background(), lv.AccessToken)
	if err != nil || p.Email != "erin@example.com" || p.Role != auth.RoleUser {
		t.Fatalf("verify over JWKS: %+v %v", p, err)
	}
	for _, bad := range fx.keys.BadTokens(t) {
		if _, err := verifier.Verify(context.Background(), bad.Token); err == nil {
			t.Errorf("%s: accepted over JWKS", bad.Name)
		}
	}
}

func TestBootstrapAdminAndAdminEmails(t *testing.T) {
	fx := newFixture(t, func(c *Config) {
		c.BootstrapAdminEmail = "Root@Example.com"
		c.BootstrapAdminPassword = "admin-password-123"
		c.AdminEmails = []string{"ops@example.com", " Boss@Example.com"}
	})
	// More replicas starting at once, on the same database, create nothing more.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			fn, err := Open(context.Background(), fx.cfg)
			if err != nil {
				t.Error(err)
				return
			}
			fn.Close()
		})
	}
	wg.Wait()
	if n := fx.users(t); n != 1 {
		t.Fatalf("users = %d, want 1", n)
	}

	lv, _ := fx.login(t, "root@example.com", "admin-password-123")
	p, err := fx.keys.Verifier().Verify(context.Background(), lv.AccessToken)
	if err != nil || p.Role != auth.RoleAdmin || auth.RequireAdmin(p) != nil {
		t.Fatalf("bootstrap admin principal = %+v, %v", p, err)
	}
	w := fx.do(t, "GET", "/me", "", "Authorization", "Bearer "+lv.AccessToken)
	expectStatus(t, w, http.StatusOK)
	if me := decode[userView](t, w); me.Role != auth.RoleAdmin || me.Email != "root@example.com" {
		t.Fatalf("/me = %+v", me)
	}

	// Nobody becomes admin by signing up with an admin's (unverified) email.
	for _, email := range []string{"boss@example.com", "OPS@example.com", "root@example.com"} {
		w := fx.do(t, "POST", "/signup", creds(email, "password-1"))
		expectStatus(t, w, http.StatusForbidden)
	}
	if n := fx.users(t); n != 1 {
		t.Fatalf("users = %d after refused admin signups, want only the bootstrap admin", n)
	}
	w = fx.do(t, "POST", "/signup", creds("user@example.com", "password-1"))
	expectStatus(t, w, http.StatusCreated)
	if u := decode[userView](t, w); u.Role != auth.RoleUser {
		t.Errorf("user@example.com: role %s, want user", u.Role)
	}
	lv, _ = fx.login(t, "user@example.com", "password-1")
	if p, _ := fx.keys.Verifier().Verify(context.Background(), lv.AccessToken); p.Role != auth.RoleUser {
		t.Errorf("user@example.com: token role %s, want user", p.Role)
	}
}

func TestTheUserFunctionHasNoEventEndpoint(t *testing.T) {
	fx := newFixture(t, nil)
	e := cloudevents.NewEvent()
	e.SetID("1")
	e.SetSource("test")
	e.SetType("ORDER_REQUESTED")
	_ = e.SetData(cloudevents.ApplicationJSON, map[string]string{"order_id": "x"})
	// Over HTTP, as the broker would deliver it: no Trigger routes events here.
	r := httptest.NewRequest("POST", "/", nil)
	if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&e), r); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	fx.h.ServeHTTP(w, r)
	expectStatus(t, w, http.StatusNotFound)
}

func TestReadyAndProbes(t *testing.T) {
	fx := newFixture(t, nil)
	if err := fx.fn.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, fx.do(t, "GET", "/health/readiness", ""), http.StatusOK)
}

func TestOpenRefusesBadConfig(t *testing.T) {
	keys := authtest.NewKeys(t)
	ok := Config{DatabaseURL: "postgres://127.0.0.1:1/none", PrivateKey: keys.PrivateKeyPEM(), TokenTTL: time.Minute}
	for name, c := range map[string]struct {
		change func(*Config)
		want   string
	}{
		"no key":             {func(c *Config) { c.PrivateKey = "" }, "no token signing key"},
		"two keys":           {func(c *Config) { c.PrivateKeyFile = "/x" }, "not both"},
		"bad key":            {func(c *Config) { c.PrivateKey = "nope" }, "AUTH_PRIVATE_KEY"},
		"public key":         {func(c *Config) { c.PrivateKey = string(auth.EncodePublicKeyPEM(keys.Public)) }, "AUTH_PRIVATE_KEY"},
		"missing key file":   {func(c *Config) { c.PrivateKey, c.PrivateKeyFile = "", "/nonexistent/key.pem" }, "AUTH_PRIVATE_KEY_FILE"},
		"zero ttl":           {func(c *Config) { c.TokenTTL = 0 }, "TOKEN_TTL"},
		"bad admin email":    {func(c *Config) { c.AdminEmails = []string{"nope"} }, "ADMIN_EMAILS"},
		"bootstrap email":    {func(c *Config) { c.BootstrapAdminEmail = "a@example.com" }, "BOOTSTRAP_ADMIN"},
		"bootstrap password": {func(c *Config) { c.BootstrapAdminPassword = "password-1" }, "BOOTSTRAP_ADMIN"},
		"bootstrap short":    {func(c *Config) { c.BootstrapAdminEmail, c.BootstrapAdminPassword = "a@example.com", "short" }, "BOOTSTRAP_ADMIN"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := ok
			c.change(&cfg)
			_, err := Open(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestNewReadsTheEnvironment(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	os.Unsetenv("DATABASE_URL")
	if _, err := New(context.Background()); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("New without DATABASE_URL: %v", err)
	}
	keys := authtest.NewKeys(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, []byte(keys.PrivateKeyPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DATABASE_URL", pgtest.NewSchema(t, "ordersaga_users", Schema))
	t.Setenv("AUTH_PRIVATE_KEY_FILE", keyFile)
	t.Setenv("ADMIN_EMAILS", "a@example.com,b@example.com")
	t.Setenv("COOKIE_INSECURE", "true")
	fn, err := New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close()
	if fn.secure || fn.Role("b@example.com") != auth.RoleAdmin || fn.jwks.Keys[0].KeyID != auth.KeyID(keys.Public) {
		t.Fatalf("config not applied: secure %v, role %s", fn.secure, fn.Role("b@example.com"))
	}
}

// The development key is made once, private to its owner, and shared by replicas that race to
// make it.
func TestDevKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "auth", "dev-signing-key.pem")
	keys := make([]string, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := signingKey(Config{DevKeyFile: path})
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = string(auth.EncodePrivateKeyPEM(k))
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if k != keys[0] {
			t.Fatal("replicas got different development keys")
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("left temporary files: %v", entries)
	}
	// A configured key wins over the development key.
	other := authtest.NewKeys(t)
	k, err := signingKey(Config{DevKeyFile: path, PrivateKey: other.PrivateKeyPEM()})
	if err != nil || !k.Public().(ed25519.PublicKey).Equal(other.Public) {
		t.Fatalf("configured key not used: %v", err)
	}
}

func TestPasswordHashDefaults(t *testing.T) {
	h := newHasher(defaultArgon2)
	ctx := context.Background()
	hash, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash = %s", hash)
	}
	if ok, err := h.Verify(ctx, "correct horse", hash); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := h.Verify(ctx, "correct horsf", hash); ok || err != nil {
		t.Fatalf("wrong password: %v %v", ok, err)
	}
	other, _ := h.Hash(ctx, "correct horse")
	if other == hash {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	// Hashes made with other parameters still verify: each carries its own.
	cheap, _ := newHasher(cheapArgon2).Hash(ctx, "correct horse")
	if ok, err := h.Verify(ctx, "correct horse", cheap); !ok || err != nil {
		t.Fatalf("cheap hash: %v %v", ok, err)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", // 4 GiB
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"} {
		if _, err := h.Verify(ctx, "x", bad); err != errBadHash {
			t.Errorf("Verify(%q) err = %v, want errBadHash", bad, err)
		}
	}
	// A cancelled request does not wait for a hashing slot.
	for range cap(h.slots) {
		h.slots <- struct{}{}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(cctx, "password-1"); err == nil {
		t.Fatal("Hash waited past its context")
	}
}
