package inventory

import (
	"net/http"

	"github.com/ordersaga/ordersaga/internal/apperr"
	"github.com/ordersaga/ordersaga/internal/auth"
	"github.com/ordersaga/ordersaga/internal/events"
	"github.com/ordersaga/ordersaga/internal/httpapi"
)

// Routes adds the item API (docs/CONTRACTS.md, "REST"). Any signed-in user may read; only admins may
// create or change items.
func (f *Function) Routes(mux *http.ServeMux) {
	mux.Handle("POST /items", httpapi.HandlerFunc(f.createItem))
	mux.Handle("PUT /items/{sku}", httpapi.HandlerFunc(f.updateItem))
	mux.Handle("GET /items", httpapi.HandlerFunc(f.listItems))
	mux.Handle("GET /items/{sku}", httpapi.HandlerFunc(f.getItem))
}

// admin authenticates r's caller and requires the admin role (401, then 403), before the body is
// read: an anonymous caller learns nothing about what a valid body looks like.
func (f *Function) admin(r *http.Request) error {
	p, err := f.verifier.Authenticate(r)
	if err != nil {
		return err
	}
	return auth.RequireAdmin(p)
}

func (f *Function) createItem(w http.ResponseWriter, r *http.Request) error {
	if err := f.admin(r); err != nil {
		return err
	}
	var req NewItem
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	it, err := store{db: f.Pool}.CreateItem(r.Context(), Item{
		SKU: *req.SKU, Name: *req.Name, PriceCents: *req.PriceCents, Available: *req.Quantity,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/items/"+it.SKU)
	httpapi.WriteJSON(w, http.StatusCreated, it)
	return nil
}

func (f *Function) updateItem(w http.ResponseWriter, r *http.Request) error {
	if err := f.admin(r); err != nil {
		return err
	}
	sku, err := skuOf(r)
	if err != nil {
		return err
	}
	var req ItemUpdate
	if err := httpapi.Decode(r, &req); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	it, err := store{db: f.Pool}.UpdateItem(r.Context(), sku, req)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, it)
	return nil
}

func (f *Function) listItems(w http.ResponseWriter, r *http.Request) error {
	if _, err := f.verifier.Authenticate(r); err != nil {
		return err
	}
	items, err := store{db: f.Pool}.Items(r.Context())
	if err != nil {
		return err
	}
	if items == nil {
		items = []Item{} // an empty list is [], not null
	}
	httpapi.WriteJSON(w, http.StatusOK, items)
	return nil
}

func (f *Function) getItem(w http.ResponseWriter, r *http.Request) error {
	if _, err := f.verifier.Authenticate(r); err != nil {
		return err
	}
	sku, err := skuOf(r)
	if err != nil {
		return err
	}
	it, err := store{db: f.Pool}.Item(r.Context(), sku)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, it)
	return nil
}

// skuOf returns the {sku} path segment. A malformed sku names no item, so it is NotFound without
// asking the database.
func skuOf(r *http.Request) (string, error) {
	sku := r.PathValue("sku")
	if !events.ValidSKU(sku) {
		return "", apperr.Errorf(apperr.NotFound, "item not found")
	}
	return sku, nil
}
