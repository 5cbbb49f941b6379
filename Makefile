# mediaprep: the commands README.md names. Each target installs what it needs.
GO      ?= go
BIN     := bin/mediaprep
SAMPLES := $(wildcard testdata/samples/*)

.PHONY: run samples test test-short bench fuzz lint build deps clean

# The main job: the service with its embedded defaults (queue, storage and
# inbox in ./mediaprep-data, Green API in dry-run until credentials are set).
run:
	scripts/deps.sh run
	$(GO) build -o $(BIN) ./cmd/mediaprep
	$(BIN) serve --data mediaprep-data

# The samples in testdata/ prepared into ./out, with the summary.
samples:
	scripts/deps.sh run
	$(GO) build -o $(BIN) ./cmd/mediaprep
	$(BIN) prepare --out out $(SAMPLES)

# The whole test suite: vet, gofmt, lint, and every test (with the race
# detector; fuzz tests run their seeds).
test:
	scripts/deps.sh test
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(MAKE) --no-print-directory lint
	$(GO) test -race -shuffle=on -timeout 30m ./...

# Benchmarks against their references (see README, Performance).
bench:
	scripts/deps.sh bench
	$(GO) test -run '^$$' -bench . -benchtime 5x -timeout 60m ./...

# Fuzz the parsers of untrusted bytes for a while each (make test runs only their seeds).
FUZZTIME ?= 60s
fuzz:
	scripts/deps.sh test
	$(GO) test ./transcode -run '^$$' -fuzz FuzzSniffBytes -fuzztime $(FUZZTIME)
	$(GO) test ./transcode -run '^$$' -fuzz FuzzSniffID3 -fuzztime $(FUZZTIME)
	$(GO) test ./transcode -run '^$$' -fuzz FuzzDecodeImage -fuzztime $(FUZZTIME)
	$(GO) test ./transcode -run '^$$' -fuzz FuzzHEIFSize -fuzztime $(FUZZTIME)
	$(GO) test ./transcode -run '^$$' -fuzz FuzzPNGStrips -fuzztime $(FUZZTIME)
	$(GO) test ./greenapi/internal/grapheme -run '^$$' -fuzz FuzzCount -fuzztime $(FUZZTIME)
	$(GO) test ./queue -run '^$$' -fuzz FuzzParseCursor -fuzztime $(FUZZTIME)
	$(GO) test ./batch -run '^$$' -fuzz FuzzDecodeSidecar -fuzztime $(FUZZTIME)

# golangci-lint with the linters .golangci.yml lists (vet, staticcheck,
# errcheck, ... and gofmt).
GOLANGCI := $(shell $(GO) env GOPATH)/bin/golangci-lint
lint:
	scripts/deps.sh lint
	$(GOLANGCI) run ./...

# Unit tests only: no versitygw, NATS cluster or browser (-short skips them).
test-short:
	$(GO) test -short ./...

build:
	$(GO) build -o $(BIN) ./cmd/mediaprep

clean:
	rm -rf bin out testdata/gen
