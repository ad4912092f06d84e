package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAnswersBecomeViewsAndErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer tok":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid token"}`))
		case r.URL.Path == "/orders/o%2F1" || r.URL.RawPath == "/orders/o%2F1":
			_, _ = w.Write([]byte(`{"id":"o/1","status":"CANCELLED","items":[{"sku":"A","quantity":2}]}`))
		case r.URL.Path == "/items":
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("upstream down"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := New(srv.URL+"/", nil).WithToken("tok")

	o, err := c.Order(ctx, "o/1")
	if err != nil || o.ID != "o/1" || !o.Terminal() || len(o.Items) != 1 || o.Items[0].Quantity != 2 {
		t.Errorf("Order = %+v, %v", o, err)
	}
	_, err = c.Items(ctx)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadGateway || err.Error() != "502 Bad Gateway: upstream down" {
		t.Errorf("a 502 without a JSON body: %#v", err)
	}
	if _, err := New(srv.URL, nil).Me(ctx); StatusOf(err) != http.StatusUnauthorized || err.Error() != "invalid token" {
		t.Errorf("without a token: %v (status %d)", err, StatusOf(err))
	}
}

func TestNoAnswerIsUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	_, err = New(base, nil).Items(context.Background())
	var unreachable *UnreachableError
	if !errors.As(err, &unreachable) || unreachable.BaseURL != base || StatusOf(err) != 0 {
		t.Errorf("Items on a closed port: %#v", err)
	}
}
