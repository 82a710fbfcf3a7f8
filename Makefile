# Emineon ATS appliance. `make run` serves the demo agency; `make test` runs every test.
# Every target first makes sure of the Debian packages it needs (Appliance/install-deps.sh).

SWIFT    ?= swift
DATA     ?= $(or $(ATS_DATA),Data/runtime)
DEPS     := Appliance/install-deps.sh
RELEASE  := .build/release/ats

.PHONY: help run demo build release test test-unit test-integration bench deps clean

help:
	@echo "make run               build release and serve the demo agency (http://127.0.0.1:8080; ATS_PORT=... to change)"
	@echo "make test              unit tests (swift test) and integration tests (Tests/integration/run.sh)"
	@echo "make bench             wrk against the release build on 100,000 candidates, beside nginx"
	@echo "make demo              load the demo agency into $(DATA) (without serving)"
	@echo "make build | release   debug | release build of the ats binary"
	@echo "make clean             remove build products (keeps $(DATA))"

deps:
	@$(DEPS)

build: deps
	$(SWIFT) build --product ats

release: deps
	$(SWIFT) build -c release --product ats

run: release
	exec $(RELEASE) serve --data $(DATA) --demo

demo: release
	$(RELEASE) demo --data $(DATA)

# Unit tests, then integration tests; both run even when the first fails, and the target
# fails when either did.
test:
	@$(DEPS) --test
	$(SWIFT) build --build-tests
	@status=0; \
	$(MAKE) --no-print-directory test-unit || status=1; \
	$(MAKE) --no-print-directory test-integration || status=1; \
	exit $$status

# The CPU-heavy suites (vector index builds, the relevance set) run after the others, and the
# suites that measure time (exporter intervals, HTTP and SMTP timeouts) run on their own first,
# so nothing starves them on a 2-core machine.
HEAVY_TESTS := ATSVectorTests|SearchRelevanceTests|BlobStoreConformanceTests
TIMING_TESTS := ATSTelemetryTests|EmailDeliveryTests|TextExtractorTests|ATSCacheTests

test-unit:
	@status=0; \
	$(SWIFT) test --skip-build --filter '$(TIMING_TESTS)' || status=1; \
	$(SWIFT) test --skip-build --skip '$(HEAVY_TESTS)|$(TIMING_TESTS)' || status=1; \
	$(SWIFT) test --skip-build --filter '$(HEAVY_TESTS)' || status=1; \
	exit $$status

test-integration:
	@$(DEPS) --test
	ATS_BIN="$$($(SWIFT) build --show-bin-path)/ats" Tests/integration/run.sh

bench:
	@$(DEPS) --bench
	$(SWIFT) build -c release --product ats
	ATS_BIN="$(CURDIR)/$(RELEASE)" Tests/bench/bench.sh

clean:
	$(SWIFT) package clean
	rm -rf .build-py
