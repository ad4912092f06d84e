# ordersaga: the order saga as Knative functions. `make run` runs it all, `make test` tests it all.
SHELL := /bin/bash
GO ?= go
export KO_CONFIG_PATH := ko.yaml

.PHONY: run test vet fmt bench fuzz build

## build: compile every binary into bin/
build:
	$(GO) build -trimpath -o bin/ ./cmd/...

## test: vet, format check and every test with the race detector (needs PostgreSQL)
test: vet
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 20m ./...

vet:
	$(GO) vet ./...

## bench: handler benchmarks against the real PostgreSQL
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./functions/...

## fuzz: a short run of every fuzz target (FUZZTIME=30s for longer)
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$target"; $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## run: the whole system on this machine (see README). The admin defaults are for local use only.
ORDERSAGA_ADMIN_EMAIL ?= admin@example.com
ORDERSAGA_ADMIN_PASSWORD ?= admin-password-123
run:
	ORDERSAGA_ADMIN_EMAIL='$(ORDERSAGA_ADMIN_EMAIL)' ORDERSAGA_ADMIN_PASSWORD='$(ORDERSAGA_ADMIN_PASSWORD)' $(GO) run ./cmd/ordersaga-local
