# dirgate — build, run the quick start, test.
GO    ?= go
SUDO  := $(shell if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then echo sudo; fi)

.PHONY: build run test deps vet bench

build:
	$(GO) build -o dirgate ./cmd/dirgate

# The quick start: the gateway on the bundled example, no other server needed.
run:
	$(GO) run ./cmd/dirgate serve --config examples/quickstart.yaml

# What the tests need: OpenLDAP's slapd and the ldap-utils clients; Node.js
# and npm for the npm Crowd clients (restfront/npmclient_test.go, which
# installs its locked packages itself).
deps:
	@if [ -x /usr/sbin/slapd ] && command -v ldapsearch >/dev/null 2>&1; then \
		echo "slapd and ldap-utils are installed"; \
	else \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils; \
	fi
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
		echo "node and npm are installed"; \
	else \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; \
	fi

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# The whole suite, as CI runs it.
test: deps vet
	$(GO) test -race -timeout 30m ./...

# Benchmarks against OpenLDAP on the same data (not part of `make test`).
bench:
	./bench/run.sh
