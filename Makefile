# The front door. A newcomer needs two targets:
#   make run    the whole platform, embedded profile (no Docker)
#   make test   every test
SHELL := bash
GO    ?= go
BIN   := $(CURDIR)/bin

# Every module of the workspace (go.work); `go test ./...` at the root would
# stop at module boundaries.
MODULES := commonlib contracts customer payment debezium devkafka relay e2e ops third_party/lungo
PKGS    := $(addprefix ./,$(addsuffix /...,$(MODULES)))
BINARIES := ./customer/cmd/customer-service ./payment/cmd/payment-service \
            ./devkafka/cmd/devkafka ./ops/cmd/kafka-inspect ./relay/cmd/outbox-relay \
            ./ops/cmd/saga-console

.PHONY: all build run relay test test-short test-integration lint bench soak topics tail clean up down connector ps logs compose-v2

all: build

## build: the binaries in ./bin
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(BINARIES)

## run: build and start devkafka, customer-service, payment-service and saga-console (Ctrl-C stops them)
run: build
	@scripts/run-embedded.sh

## relay: run outbox-relay (Kafka Connect REST API on 127.0.0.1:8083); register with CONNECT_URL=http://localhost:8083 make connector
relay: build
	@$(BIN)/outbox-relay

## test: unit, integration (embedded) and end-to-end tests
test:
	$(GO) test -count=1 -timeout 15m $(PKGS)

## test-short: everything but the end-to-end tests
test-short:
	$(GO) test -count=1 -short $(PKGS)

## test-integration: the store and relay tests against a real MongoDB and Kafka
##   MONGODB_TEST_URI=mongodb://localhost:27017/?directConnection=true KAFKA_TEST_BROKERS=localhost:9093 make test-integration
test-integration:
	@test -n "$$MONGODB_TEST_URI" -a -n "$$KAFKA_TEST_BROKERS" || { echo "set MONGODB_TEST_URI and KAFKA_TEST_BROKERS (see README)"; exit 2; }
	$(GO) test -count=1 -run Integration $(PKGS)

## lint: formatting, go vet and the static checks of the compose profile
lint:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) vet -tags outboxrelay_e2e ./relay/...

## bench: the performance report behind the README's figures (docs/bench/report.md, sagas.svg)
##   sized by BENCH_SIZES (0,10000,100000), BENCH_SAGAS, BENCH_BACKLOG, BENCH_OPEN_SECONDS
bench:
	set -o pipefail; BENCH_REPORT=1 $(GO) test -count=1 -run '^TestPerformanceReport$$' -timeout 120m -v ./e2e/ | grep --line-buffered -v 'time='
	$(GO) test -count=1 -run '^$$' -bench BenchmarkInsertAtSize -benchtime 300x ./commonlib/mongotx/

## soak: registrations under load while devkafka and both services are killed (kill -9) in turn; checks nothing is lost
##   sized by SOAK_REGISTRATIONS (10000), SOAK_FAULTS (30), SOAK_INTERVAL (6s between faults); make test runs a short one
soak:
	set -o pipefail; SOAK=1 $(GO) test -count=1 -run '^TestSoak$$' -timeout 60m -v ./e2e/ | grep --line-buffered -v 'time='

## topics: topics, offsets and consumer-group lag of KAFKA_BROKERS (default localhost:9093)
topics: build
	@$(BIN)/kafka-inspect topics

## tail: the last N (default 10) records of TOPIC, e.g. make tail TOPIC=outbox.event.customer
tail: build
	@$(BIN)/kafka-inspect tail -n $${N:-10} $${TOPIC:?set TOPIC, e.g. make tail TOPIC=outbox.event.customer}

# --- Production-like stack (compose/, needs Docker; see the README) ---------
COMPOSE_FILE_PATH := compose/docker-compose.yml
# Docker Compose v2: the `docker compose` plugin, or a v2 standalone binary
# (COMPOSE=docker-compose when that one is 2.x). Not the Python
# docker-compose 1.29: it crashes with KeyError: 'ContainerConfig' when it
# recreates a container on current Docker Engines (docker/compose#11742) and
# has no --wait; only scripts/ci-static.sh uses it, to check that the file
# parses.
COMPOSE ?= docker compose
# Project name: also set in compose/.env; passed here too because early
# compose v2 releases read .env from the working directory, not compose/.
COMPOSE_CMD = $(COMPOSE) -p saga-outbox -f $(COMPOSE_FILE_PATH)
# make down DOWN_FLAGS=-v  also deletes the volumes (Kafka topics, Mongo data).
DOWN_FLAGS ?=

# compose-v2: fails, saying why, unless $(COMPOSE) is Compose 2.1 or later
# (the first with `up --wait`). A prerequisite of every compose target.
compose-v2:
	@v=$$($(COMPOSE) version --short 2>/dev/null) || v=; v=$${v#v}; \
	major=$${v%%.*}; minor=$${v#*.}; minor=$${minor%%.*}; \
	if ! [[ $$major =~ ^[0-9]+$$ && $$minor =~ ^[0-9]+$$ ]] || ((major < 2 || (major == 2 && minor < 1))); then \
		echo "make: the compose targets need Docker Compose v2.1 or later (the \`docker compose\` plugin); '$(COMPOSE)' is $${v:-not installed}." >&2; \
		echo "  docker-compose 1.29 crashes with KeyError: 'ContainerConfig' when it recreates a container on current Docker Engines (docker/compose#11742)." >&2; \
		echo "  Install the plugin (https://docs.docker.com/compose/install/linux/), or point COMPOSE at a v2 binary: make up COMPOSE=/path/to/docker-compose-v2" >&2; \
		exit 2; \
	fi

up: compose-v2 ## Build and start the compose stack, wait until healthy, register the Debezium connector
	$(COMPOSE_CMD) up -d --build --wait
	scripts/register-connector.sh

down: compose-v2 ## Stop the compose stack (make down DOWN_FLAGS=-v to delete its data too)
	$(COMPOSE_CMD) down --remove-orphans $(DOWN_FLAGS)

connector: ## (Re)register debezium/connector.json with Kafka Connect and wait until RUNNING
	scripts/register-connector.sh

ps: compose-v2 ## Containers of the compose stack and their health
	$(COMPOSE_CMD) ps

logs: compose-v2 ## Follow the compose stack's logs (make logs S=debezium for one service)
	$(COMPOSE_CMD) logs -f --tail=200 $(S)

clean:
	rm -rf $(BIN)
