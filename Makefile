# canaryflow — `make demo` runs a real rollout on this machine; `make test` runs the tests.
# Tool binaries are built once into ~/.cache/canaryflow/<tool>@<version> and linked into bin/,
# so a fresh clone on a warm machine does not rebuild them.

SHELL := /bin/bash
GO ?= go
CACHE ?= $(HOME)/.cache/canaryflow
BIN := $(CURDIR)/bin
TEMPORAL_VERSION := v1.5.1
TEMPORAL := $(CACHE)/temporal@$(TEMPORAL_VERSION)/temporal
SCENARIO ?= good
ROUTER ?= gatewayapi
TEST_TIMEOUT ?= 25m

.PHONY: all tools kube-tools build test unit bench demo demo-k8s vet fmt histories clean

all: build

## tools: the real servers tests and the demo run (Temporal dev server, Prometheus,
## the Kubernetes test control plane)
tools: $(BIN)/temporal $(BIN)/prometheus kube-tools

$(TEMPORAL):
	@mkdir -p $(dir $@)
	@echo "building temporal CLI $(TEMPORAL_VERSION) (first time only, ~3-5 min)"
	cd tools/temporal && $(GO) build -o $@ github.com/temporalio/cli/cmd/temporal

$(BIN)/temporal: $(TEMPORAL)
	@mkdir -p $(BIN)
	ln -sf $< $@

$(BIN)/prometheus: tools/prometheus/install.sh
	CANARYFLOW_CACHE=$(CACHE) tools/prometheus/install.sh $(BIN)

## kube-tools: the Kubernetes test control plane (etcd, kube-apiserver,
## kube-controller-manager, kube-scheduler, kwok) from tools/kube/go.mod;
## ~17 min cold, a no-op once cached
kube-tools:
	CANARYFLOW_CACHE=$(CACHE) GO=$(GO) tools/kube/install.sh $(BIN)

## build: the project's own binaries
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./worker ./starter ./demo/cmd/...

## test: every test, against real Temporal, Prometheus and processes
test: tools build
	$(GO) test -count=1 -parallel 8 -timeout $(TEST_TIMEOUT) ./...

## unit: the fast tests that need no server
unit:
	$(GO) test ./rollout/... ./workflows/... ./middleware/... ./control/... ./starter/... ./incident/...

## bench: benchmarks with their figures
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./middleware/ ./rollout/ ./analysis/stats/ ./activities/metrics/prometheus/ ./integration/

## bench-scale: N rollouts (SCALE_N, default 100,300,1000,2000) held by one in-process
## worker on one dev server, measuring every 10 s for SCALE_WINDOW (60s): measurement lag
## p50/p99 and where it went (timer, queue, worker), worker and server CPU, heap per
## rollout, history events per measurement; SCALE_STOCK=1 leaves the dev server's
## timer batch at its default (see shardSettings in integration/scale_bench_test.go)
SCALE_N ?= 100,300,1000,2000
.PHONY: bench-scale
bench-scale: $(BIN)/temporal
	SCALE_N=$(SCALE_N) $(GO) test -run '^$$' -bench '^BenchmarkScale$$' -benchtime 1x -timeout 90m ./integration/

## bench-latency: on the demo's real stack (dev server, worker, router, app processes,
## Prometheus, load): fault → router weight 0 for an 8 % error and a 3 × latency canary
## with where the seconds go, abort → weight 0 in each phase, and a promoted rollout's
## wall time against its holds; 20 runs per figure, ~25 min (BENCH_LATENCY_FLAGS='-runs 5')
.PHONY: bench-latency
bench-latency: $(BIN)/temporal $(BIN)/prometheus
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 120m ./demo/latency/ $(BENCH_LATENCY_FLAGS)

## bench-decisions: how the judge and today's fixed-window rules decide simulated
## rollouts of the default plan (seeded, 1,000 runs per scenario and rate; a few
## seconds); BENCH_DECISIONS_FLAGS=-tune adds rows for alternative judge settings
.PHONY: bench-decisions
bench-decisions:
	$(GO) run ./analysis/sim/cmd/bench-decisions $(BENCH_DECISIONS_FLAGS)

## demo: a real canary rollout on this machine (SCENARIO=good|bad)
demo: $(BIN)/temporal $(BIN)/prometheus build
	$(BIN)/demo --scenario $(SCENARIO)

## demo-k8s: the same rollout on the Kubernetes test control plane: Helm installs the
## app chart, the Gateway API router moves the weight (ROUTER=nginx: the canary Ingress);
## kwok simulates the pods, local processes serve and measure for them (SCENARIO=good|bad)
demo-k8s: tools build
	$(BIN)/demo-k8s --scenario $(SCENARIO) --router $(ROUTER)

## dev-server: a Temporal dev server (UI on http://localhost:8233) with the search
## attributes rollouts keep current registered, for trying the worker and starter by hand
SEARCH_ATTRIBUTES := CanaryApp=Keyword CanaryNamespace=Keyword CanaryPhase=Keyword CanaryVersion=Keyword CanaryWeight=Int
.PHONY: dev-server
dev-server: $(BIN)/temporal
	$(BIN)/temporal server start-dev $(addprefix --search-attribute ,$(SEARCH_ATTRIBUTES))

## histories: capture fresh replay histories from real runs on the dev server
histories: tools build
	CANARYFLOW_CAPTURE_HISTORIES=1 $(GO) test -count=1 -run 'TestRolloutsOnARealTemporalServer|TestContinueAsNewOnARealServer|TestJunkSignalsFromTheTemporalCLI|TestRollbackFailed|TestSignalsInSeveralPhasesReplay|TestSequentialJudgementWaitsForAPerson|TestUpdatesAnswerAndRefusalsLeaveNoEventOnARealServer|TestSearchAttributesFindARolloutAcrossContinueAsNew|TestARuleUndecidedPastItsLimitPausesForAPersonOnARealServer|TestANamelessMethodFromTheTemporalCLIIsJudgedSequentially|TestTheFinalJudgementTakesAFreshLookOnARealServer' ./integration/

## fuzz: each fuzz target for FUZZTIME (default 20s), one after another; not part
## of make test, which runs their committed seeds only. A short minimisation time
## keeps a target from spending its run shrinking each new input.
FUZZTIME ?= 20s
FUZZ_TARGETS := FuzzParse:./rollout/ FuzzQueries:./activities/metrics/prometheus/ \
	FuzzDecodeSignal:./workflows/ FuzzClip:./workflows/ FuzzAdminAPI:./demo/router/ \
	FuzzCookieValue:./middleware/ FuzzRouteMatch:./middleware/
.PHONY: fuzz
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzzing $${t%%:*} in $${t#*:} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $${t#*:}; \
	done

## dashboards: regenerate dashboards/grafana/*.json from their Go definitions
## (dashboards/boards); go test ./dashboards/ fails when they differ
.PHONY: dashboards
dashboards:
	$(GO) generate ./dashboards/

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go' | grep -v '^tools/')

clean:
	rm -rf $(BIN) .demo incidents
