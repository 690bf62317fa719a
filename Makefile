# gatehouse — the two commands: `make run` and `make test`.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-unit test-e2e test-asan bench fmt fmt-check clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Builds, migrates ./var/gatehouse.db (SQLite) and serves on http://localhost:3000.
run: build
	@mkdir -p var
	@DATABASE_URL=$${DATABASE_URL:-sqlite:./var/gatehouse.db} $(BUILD)/gatehouse serve --migrate

# Everything CI runs: unit tests, e2e on SQLite and PostgreSQL, then both again under ASan+UBSan.
test:
	@scripts/deps.sh --test
	@scripts/test.sh

bench: build
	@scripts/deps.sh --bench
	@bench/run.sh

fmt:
	@clang-format -i $$(git ls-files '*.c' '*.h')

fmt-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
