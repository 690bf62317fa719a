# gatehouse — the two commands: `make run` and `make test`.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-unit test-e2e test-asan test-fastapi bench fmt fmt-check clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Builds, migrates ./var/gatehouse.db (SQLite) and serves gatehouse on http://localhost:3000, with
# the reference tasks API (gatehouse-tasks, ./var/tasks.db) on http://localhost:8000 next to it.
# Ctrl-C stops both; when gatehouse exits, the tasks API is stopped too.
run: build
	@mkdir -p var
	@trap 'kill $$tasks $$gh 2>/dev/null' INT TERM; \
	DATABASE_URL="$${DATABASE_URL:-sqlite:./var/gatehouse.db}" $(BUILD)/gatehouse serve --migrate & gh=$$!; \
	TASKS_DATABASE_URL="$${TASKS_DATABASE_URL:-sqlite:./var/tasks.db}" \
	  GATEHOUSE_URL="$${GATEHOUSE_URL:-$${GATEHOUSE_BASE_URL:-http://localhost:$${PORT:-3000}}}" \
	  TASKS_CORS_ORIGIN="$${TASKS_CORS_ORIGIN-http://localhost:5173}" \
	  $(BUILD)/gatehouse-tasks serve & tasks=$$!; \
	sleep 1; \
	echo "gatehouse:       http://localhost:$${PORT:-3000}  (API under /api/auth)"; \
	echo "gatehouse-tasks: http://localhost:$${TASKS_PORT:-8000}  (API under /api/tasks; Ctrl-C stops both)"; \
	echo ""; \
	echo "Next:"; \
	echo "  curl -i -H 'Content-Type: application/json' -d '{\"name\":\"Ada\",\"email\":\"ada@example.com\",\"password\":\"correct horse\"}' http://localhost:$${PORT:-3000}/api/auth/sign-up/email"; \
	echo "  then, from a frontend: createAuthClient({ baseURL: \"http://localhost:$${PORT:-3000}\" }) (better-auth/client)"; \
	echo "  docs: README.md (configuration, plugins), docs/api.md, docs/tasks-api.md, docs/operations.md"; \
	wait $$gh; status=$$?; kill $$tasks 2>/dev/null; wait $$tasks; \
	case $$status in 0|130|143) exit 0;; *) exit $$status;; esac

# Everything CI runs: unit tests, e2e on SQLite and PostgreSQL, then both again under ASan+UBSan.
test:
	@scripts/deps.sh --test
	@scripts/test.sh

# Parts of it: the cmocka unit tests (with a throwaway PostgreSQL for the store tests), the e2e
# suites on SQLite and PostgreSQL (SUITES="core jwt" for some), and both under ASan+UBSan.
test-unit:
	@scripts/deps.sh --test
	@scripts/test.sh unit

test-e2e:
	@scripts/deps.sh --test
	@scripts/test.sh e2e $(SUITES)

test-asan:
	@scripts/deps.sh --test
	@scripts/test.sh asan $(SUITES)

# The FastAPI integration's pytest suite (integrations/fastapi) against a real gatehouse.
test-fastapi:
	@scripts/deps.sh --test
	@scripts/test.sh fastapi

bench: build
	@scripts/deps.sh --bench
	@bench/run.sh
	@bench/resource.sh
	@bench/forward-auth.sh

fmt:
	@clang-format -i $$(git ls-files '*.c' '*.h')

fmt-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
