package gateway

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/console/assets"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// console is the web console at /console/ (docs/CONSOLE.md): its page, served from the
// embedded assets, and its API under /console/api/. The page reaches everything else through
// the same gateway, same origin, with the login cookie the user function sets: /login, /me,
// /orders, /items, /deadletters. Who sees what is decided where the data is: the order function
// shows a user only their orders, the dead-letter API is for admins only, and the console's own
// API filters the event flow and the timelines by the caller's token (caller.go).
type console struct {
	callers   *callers
	events    *eventHub // nil without an EventSource
	timelines timelines
}

func newConsole(keys auth.Config, src *EventSource, orderURL string) (*console, error) {
	c, err := newCallers(keys)
	if err != nil {
		return nil, err
	}
	con := &console{callers: c, timelines: newTimelines(src, orderURL)}
	if src != nil {
		con.events = newEventHub(*src)
	}
	return con, nil
}

// routes adds the console's paths to mux.
func (c *console) routes(mux *http.ServeMux) {
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	mux.Handle("GET /console/api/events", c.callers.require(func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		c.events.serveEvents(w, r, p, c.callers.check)
	}))
	mux.Handle("GET /console/api/orders/{id}/timeline", c.callers.require(c.timelines.serve))
	mux.HandleFunc("GET /console/api/", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, apperr.Errorf(apperr.NotFound, "no such console API path"))
	})
	mux.Handle("GET /console/", securityHeaders(http.HandlerFunc(servePage)))
}

// servePage serves an asset by name, and the page itself (index.html) for every other path:
// /console/orders/{id} and the other views are the page's own routes (history API), so a
// reload or a shared link opens the same view.
func servePage(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/console")
	name = strings.TrimPrefix(name, "/")
	if name == "" || strings.Contains(name, "/") || !isFile(name) {
		name = "index.html"
	}
	// The assets change with the binary: revalidate, never serve a stale page.
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, assets.FS, name)
}

func isFile(name string) bool {
	info, err := fs.Stat(assets.FS, name)
	return err == nil && !info.IsDir()
}

// securityHeaders keeps the page to its own origin: its scripts, styles and connections come
// from the gateway only, it cannot be framed, and no type is sniffed.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}
