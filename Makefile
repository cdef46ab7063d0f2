# The front door. A newcomer needs two targets:
#   make run    the whole platform, embedded profile (no Docker)
#   make test   every test
SHELL := bash
GO    ?= go
BIN   := $(CURDIR)/bin

# Every module of the workspace (go.work); `go test ./...` at the root would
# stop at module boundaries.
MODULES := commonlib customer payment debezium devkafka relay e2e third_party/lungo
PKGS    := $(addprefix ./,$(addsuffix /...,$(MODULES)))
BINARIES := ./customer/cmd/customer-service ./payment/cmd/payment-service \
            ./devkafka/cmd/devkafka ./devkafka/cmd/kafka-inspect ./relay/cmd/outbox-relay

.PHONY: all build run relay test test-short test-integration lint bench topics tail clean up down connector ps logs

all: build

## build: the binaries in ./bin
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(BINARIES)

## run: build and start devkafka, customer-service and payment-service (Ctrl-C stops them)
run: build
	@scripts/run-embedded.sh

## relay: run outbox-relay (Kafka Connect REST API on :8083); register with CONNECT_URL=http://localhost:8083 make connector
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

## topics: topics, offsets and consumer-group lag of KAFKA_BROKERS (default localhost:9093)
topics: build
	@$(BIN)/kafka-inspect topics

## tail: the last N (default 10) records of TOPIC, e.g. make tail TOPIC=outbox.event.customer
tail: build
	@$(BIN)/kafka-inspect tail -n $${N:-10} $${TOPIC:?set TOPIC, e.g. make tail TOPIC=outbox.event.customer}

# --- Production-like stack (compose/, needs Docker; see the README) ---------
COMPOSE_FILE_PATH := compose/docker-compose.yml
COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; else echo docker-compose; fi)
# Project name: also set in compose/.env; passed here too because early
# compose v2 releases read .env from the working directory, not compose/.
COMPOSE_CMD = $(COMPOSE) -p saga-outbox -f $(COMPOSE_FILE_PATH)
COMPOSE_WAIT = $(if $(filter docker-compose,$(COMPOSE)),,--wait)
# make down DOWN_FLAGS=-v  also deletes the volumes (Kafka topics, Mongo data).
DOWN_FLAGS ?=

up: ## Build and start the compose stack, wait until healthy, register the Debezium connector
	$(COMPOSE_CMD) up -d --build $(COMPOSE_WAIT)
	scripts/register-connector.sh

down: ## Stop the compose stack (make down DOWN_FLAGS=-v to delete its data too)
	$(COMPOSE_CMD) down --remove-orphans $(DOWN_FLAGS)

connector: ## (Re)register debezium/connector.json with Kafka Connect and wait until RUNNING
	scripts/register-connector.sh

ps: ## Containers of the compose stack and their health
	$(COMPOSE_CMD) ps

logs: ## Follow the compose stack's logs (make logs S=debezium for one service)
	$(COMPOSE_CMD) logs -f --tail=200 $(S)

clean:
	rm -rf $(BIN)
