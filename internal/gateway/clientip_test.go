package gateway

import (
	"net/http/httptest"
	"testing"
)

func TestClientIPTrustsOnlyTheConfiguredProxies(t *testing.T) {
	for _, c := range []struct {
		xff     []string
		trusted int
		want    string
	}{
		{nil, 0, "10.0.0.1"},
		{[]string{"203.0.113.9"}, 0, "10.0.0.1"},                   // the client's claim is ignored
		{[]string{"203.0.113.9, 198.51.100.4"}, 1, "198.51.100.4"}, // one proxy: it appended the client
		{[]string{"203.0.113.9", "198.51.100.4"}, 1, "198.51.100.4"},
		{[]string{"198.51.100.4, 10.0.0.2"}, 2, "198.51.100.4"},
		{nil, 2, "10.0.0.1"}, // fewer hops than promised: the leftmost there is
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.1:5555"
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientIP(r, c.trusted); got != c.want {
			t.Errorf("X-Forwarded-For %q, %d trusted: %q, want %q", c.xff, c.trusted, got, c.want)
		}
	}
}
