# ordersaga: the order saga as Knative functions. `make run` runs it all, `make test` tests it all.
SHELL := /bin/bash
GO ?= go
export KO_CONFIG_PATH := ko.yaml

.PHONY: run test vet fmt bench fuzz build coldstart tools images

## build: compile every binary into bin/
build:
	$(GO) build -trimpath -o bin/ ./cmd/...

## test: vet, format check and every test with the race detector (needs PostgreSQL)
test: vet
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 20m ./...

vet:
	$(GO) vet ./...

## bench: the whole stack under load (orders/s at high concurrency, end-to-end p50/p95/p99 at
## 50 orders/s offered) and pgbench -N on the same PostgreSQL; figures in .data/bench.json.
## BENCH_FLAGS passes flags (go run ./cmd/ordersaga-bench -h); bench-handlers: handler benchmarks.
bench:
	$(GO) run ./cmd/ordersaga-bench $(BENCH_FLAGS)

## bench-compare: make bench, then the peer design (BASELINE_DIR: the seed's architecture ported to
## Go, a development tool outside this repository) on the same PostgreSQL, and the two ratios.
BASELINE_DIR ?= ../shared/tools/baseline
.PHONY: bench-compare
bench-compare:
	@if [ ! -f '$(BASELINE_DIR)/go.mod' ]; then \
	  echo "bench-compare needs the peer design: set BASELINE_DIR to its folder (now: $(BASELINE_DIR))"; exit 2; fi
	$(GO) run ./cmd/ordersaga-bench -baseline '$(BASELINE_DIR)' $(BENCH_FLAGS)

## bench-burst: only the burst scenario (docs/SCALING.md): on a stack with scaling on, once every
## function has idled to zero, BURST_ORDERS orders at once from 64 clients; figures in .data/bench.json.
BURST_ORDERS ?= 1000
.PHONY: bench-burst
bench-burst:
	$(GO) run ./cmd/ordersaga-bench -burst $(BURST_ORDERS) -concurrency 0 -rate 0 -pgbench-seconds 0 -warmup 0 $(BENCH_FLAGS)

.PHONY: bench-handlers
bench-handlers:
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
## Built, then run with exec rather than `go run`: go run exits 1 after Ctrl-C even when the
## program stops cleanly, and make would report that as an error.
run:
	@$(GO) build -o bin/ordersaga-local ./cmd/ordersaga-local
	ORDERSAGA_ADMIN_EMAIL='$(ORDERSAGA_ADMIN_EMAIL)' ORDERSAGA_ADMIN_PASSWORD='$(ORDERSAGA_ADMIN_PASSWORD)' exec bin/ordersaga-local

## chaos: on a running stack (make run in another terminal), SIGKILL a random function every
## second under CHAOS_ORDERS orders, then hang one (SIGSTOP) for 90 s under as many more; then
## wait for every order to end and check the stock invariants. CHAOS_FLAGS: go run ./cmd/ordersaga-chaos -h
CHAOS_ORDERS ?= 600
.PHONY: chaos
chaos:
	ORDERSAGA_ADMIN_EMAIL='$(ORDERSAGA_ADMIN_EMAIL)' ORDERSAGA_ADMIN_PASSWORD='$(ORDERSAGA_ADMIN_PASSWORD)' $(GO) run ./cmd/ordersaga-chaos -orders $(CHAOS_ORDERS) $(CHAOS_FLAGS)

## smoke: check the REST contract against a running stack (make run in another terminal)
SMOKE_URL ?= http://127.0.0.1:8080
.PHONY: smoke
smoke:
	ORDERSAGA_ADMIN_EMAIL='$(ORDERSAGA_ADMIN_EMAIL)' ORDERSAGA_ADMIN_PASSWORD='$(ORDERSAGA_ADMIN_PASSWORD)' $(GO) run ./cmd/ordersaga-smoke $(SMOKE_URL)

# ---- Cluster deployment (README "Deploy to a cluster"); needs kubectl, openssl and ko ----
NAMESPACE ?= ordersaga
# The Strimzi Kafka cluster's namespace, where the KafkaUsers and their password Secrets live.
KAFKA_NAMESPACE ?= kafka
FUNCTIONS := order inventory payment shipping user deadletter gateway
RELEASE ?= release.yaml
PUSH ?= true
FUNC_STAGE := .func-stage

.PHONY: secrets deploy undeploy resolve func-deploy

## secrets: create the Secrets config/ refers to, with generated values (existing ones are kept)
secrets:
	kubectl apply -f config/00-namespace.yaml
	@for fn in order:orders inventory:inventory payment:payment shipping:shipping user:users deadletter:deadletter; do \
	  name=$${fn%%:*}-db; role=$${fn##*:}; \
	  kubectl get secret -n $(NAMESPACE) $$name >/dev/null 2>&1 && continue; \
	  kubectl create secret generic -n $(NAMESPACE) $$name --type=kubernetes.io/basic-auth \
	    --from-literal=username=$$role --from-literal=password="$$(openssl rand -hex 24)" && \
	  kubectl label secret -n $(NAMESPACE) $$name cnpg.io/reload=true app.kubernetes.io/part-of=ordersaga || exit 1; \
	done
	@# Kafka: one password per principal, in its KafkaUser's namespace and in the client's.
	@for p in order kafka-source knative-broker ordersctl console; do \
	  kubectl get secret -n $(NAMESPACE) kafka-$$p >/dev/null 2>&1 && continue; \
	  pw="$$(openssl rand -hex 24)"; \
	  kubectl create secret generic -n $(KAFKA_NAMESPACE) ordersaga-$$p-kafka --from-literal=password="$$pw" \
	    --dry-run=client -o yaml | kubectl apply -f - && \
	  kubectl create secret generic -n $(NAMESPACE) kafka-$$p --from-literal=protocol=SASL_PLAINTEXT \
	    --from-literal=sasl.mechanism=SCRAM-SHA-512 --from-literal=user=ordersaga-$$p --from-literal=password="$$pw" || exit 1; \
	done
	@kubectl get secret -n $(NAMESPACE) user-auth >/dev/null 2>&1 || { \
	  key=$$(mktemp) && openssl genpkey -algorithm ed25519 -out $$key && \
	  kubectl create secret generic -n $(NAMESPACE) user-auth --from-file=AUTH_PRIVATE_KEY=$$key \
	    --from-literal=BOOTSTRAP_ADMIN_PASSWORD="$$(openssl rand -base64 18)"; \
	  rc=$$?; rm -f $$key; \
	  echo "admin password: kubectl get secret -n $(NAMESPACE) user-auth -o jsonpath='{.data.BOOTSTRAP_ADMIN_PASSWORD}' | base64 -d"; \
	  exit $$rc; }

## deploy: build and push every function with ko ($KO_DOCKER_REPO), then apply config/ and triggers/
deploy: secrets
	ko apply -B -f config/ -f triggers/

## undeploy: delete what deploy applied: the namespace (database included) and the KafkaTopic
undeploy:
	kubectl delete --ignore-not-found -f triggers/ -f config/

## resolve: build every image and write the release YAML to $(RELEASE); PUSH=false builds without pushing
resolve:
	@command -v ko >/dev/null || { echo "resolve needs ko: https://ko.build/install/"; exit 1; }
	KO_DOCKER_REPO=$${KO_DOCKER_REPO:-ko.local} ko resolve --push=$(PUSH) -B -f config/ -f triggers/ > $(RELEASE)

## func-deploy: deploy with knative/func instead of ko (FUNCTION=<name> for one; FUNC_REGISTRY=...)
func-deploy: secrets
	@command -v func >/dev/null || { echo "func-deploy needs func: https://knative.dev/docs/functions/install-func/"; exit 1; }
	@for f in config/*.yaml; do grep -q '^kind: Service$$' $$f || kubectl apply -f $$f || exit 1; done
	@set -e; for fn in $(or $(FUNCTION),$(FUNCTIONS)); do \
	  dir=$(FUNC_STAGE)/$$fn; rm -rf $$dir; mkdir -p $$dir; \
	  git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C $$dir; \
	  $(GO) run ./internal/manifests/funcyaml -function $$fn > $$dir/func.yaml; \
	  func deploy --path $$dir --registry $(FUNC_REGISTRY); \
	done
	kubectl apply -f triggers/

## coldstart: each function binary's time to ready and idle memory (needs PostgreSQL)
coldstart:
	scripts/coldstart.sh

# ---- Offline images (README "Build images offline") ----
## Pinned build tools, installed from the Go module proxy into bin/tools under versioned names,
## so a fresh clone gets them with the first target that needs them and a version bump reinstalls.
TOOLS := $(CURDIR)/bin/tools
KO_VERSION := v0.19.1
CRANE_VERSION := v0.21.7
KO := $(TOOLS)/ko-$(KO_VERSION)
CRANE := $(TOOLS)/crane-$(CRANE_VERSION)

$(KO):
	GOBIN=$@.install $(GO) install github.com/google/ko@$(KO_VERSION)
	mv $@.install/ko $@ && rmdir $@.install

$(CRANE):
	GOBIN=$@.install $(GO) install github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION)
	mv $@.install/crane $@ && rmdir $@.install

## tools: install ko and crane into bin/tools
tools: $(KO) $(CRANE)

## images: build every function's image offline: a local registry (crane registry serve), the base
## assembled from this machine's CA certificates (nonroot 65532, no shell), ko resolve pinned to it
## by digest, an SPDX SBOM per image; release.yaml, base.txt and sbom/ in $(IMAGES_OUT).
## IMAGES_REGISTRY=host:port uses a registry already running; IMAGES_PLATFORMS=linux/amd64 builds
## fewer platforms than ko.yaml's.
IMAGES_OUT ?= .data/images
images: tools
	KO=$(KO) CRANE=$(CRANE) IMAGES_OUT='$(IMAGES_OUT)' IMAGES_REGISTRY='$(IMAGES_REGISTRY)' IMAGES_PLATFORMS='$(IMAGES_PLATFORMS)' scripts/images.sh

# ---- Known vulnerabilities ----
## vuln: govulncheck on every package. Its database is built here from the golang.org/x/vulndb
## module (its data/osv folder, indexed by the module's own cmd/indexdb), so only the Go module
## proxy is needed, not vuln.go.dev; built once per VULNDB_VERSION into .data/. Bump
## VULNDB_VERSION (go list -m golang.org/x/vulndb@latest) to learn of newer reports. VULN_DB
## names another database (https://vuln.go.dev on a machine with internet). Fails on a reached
## vulnerability in a dependency (bump it in go.mod); standard-library ones are listed with the Go
## release that fixes them and fail only with VULN_STRICT=1, since the toolchain is the machine's
## (cmd/ordersaga-vulngate).
GOVULNCHECK_VERSION ?= v1.9.0
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
VULNDB_DIR := .data/vulndb-$(VULNDB_VERSION)
VULN_DB ?= file://$(abspath $(VULNDB_DIR))
.PHONY: vuln
vuln: $(if $(filter file://$(abspath $(VULNDB_DIR)),$(VULN_DB)),$(VULNDB_DIR)/index/db.json)
	set -o pipefail; $(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db $(VULN_DB) -format json ./... \
	  | $(GO) run ./cmd/ordersaga-vulngate $(if $(VULN_STRICT),-strict)

$(VULNDB_DIR)/index/db.json:
	$(GO) mod download golang.org/x/vulndb@$(VULNDB_VERSION)
	rm -rf $(VULNDB_DIR).tmp && mkdir -p $(dir $(VULNDB_DIR))
	$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) \
	  -vulns "$$($(GO) env GOMODCACHE)/golang.org/x/vulndb@$(VULNDB_VERSION)/data/osv" -out $(VULNDB_DIR).tmp
	mv $(VULNDB_DIR).tmp $(VULNDB_DIR)
