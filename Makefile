# nixdeck — the two commands a fresh Debian machine needs (run as root):
#   make demo   the console on a local lab fleet
#   make test   vet and test everything, lab integration tests included

GO      ?= go
BIN     ?= ./nixdeck
# nginx serves the lab's binary cache (lab up --cache); the lab runs its
# own, on 127.0.0.1. Where Debian's package starts its system nginx on :80
# after installing, the lab does not need it: systemctl disable --now nginx.
DEBS    := nix-bin openssh-server tmux sudo nginx
# make test also builds the lab's current-Nix root (Debian 13) with debootstrap.
TEST_DEBS := debootstrap
# Nix here must never wait on a binary cache it cannot reach.
export NIX_CONFIG ?= substituters =

.PHONY: all build deps test-deps test vet bench demo clean

all: build

build:
	$(GO) build -o $(BIN) .

# install_debs installs the Debian packages in $(1) that are missing.
define install_debs
	@missing=""; \
	for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "make: missing Debian packages:$$missing (run as root to install them)"; exit 1; fi; \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

# deps installs what the lab and the tests need, only when something is missing.
deps:
	$(call install_debs,$(DEBS))

test-deps:
	$(call install_debs,$(DEBS) $(TEST_DEBS))

vet:
	$(GO) vet ./...

# test first builds the Debian 13 root that the mixed labs' current-Nix
# hosts run in (Nix 2.26, OpenSSH 10): about a minute once per machine,
# cached under $XDG_CACHE_HOME/nixdeck/roots afterwards; make demo never
# needs it. Without it the tests that need it skip, except under CI=true.
test: test-deps vet build
	@$(BIN) lab root >/dev/null || [ "$$CI" != true ]
	$(GO) test -race -count=1 -timeout 40m ./...

# bench runs the benchmarks one package at a time (-p 1) so that compiling
# other packages does not skew wall-clock figures; see BENCHMARKS.md.
bench: deps build
	$(GO) test -p 1 -run '^$$' -bench . -benchtime 7x -timeout 40m ./...

# demo starts a fresh lab and opens the console on it; without a terminal
# (CI, a pipe) it prints the lab's status and the command that opens it.
demo: deps build
	@fleet=$$($(BIN) lab up) || exit 1; \
	if [ -t 0 ] && [ -t 1 ]; then \
		exec $(BIN) -f "$$fleet"; \
	else \
		$(BIN) lab status; \
		echo; echo "Open the console on it from a terminal: $(BIN) -f $$fleet"; \
	fi

clean:
	rm -f $(BIN)
