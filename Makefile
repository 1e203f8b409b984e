# The two commands a newcomer needs: `make run` and `make test`. Both install missing Debian
# packages (apt-get), configure with CMake + Ninja, and build; both are idempotent.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
# `make run` serves on HOST:PORT (gRPC) and HOST:METRICS_PORT (/metrics); HOST=0.0.0.0 opens
# both to the network (admin RPCs then need ghostserve's --admin_token).
HOST ?= 127.0.0.1
PORT ?= 50051
METRICS_PORT ?= 9464
CTEST_JOBS ?= 2
DATA_DIR ?=

.PHONY: all deps configure build run test test-asan python-stubs clean deploy-test

all: build

# Debian packages by purpose (tools/install-deps.sh): `make run` needs build + run, `make test`
# also test. DEPS_GROUPS picks them; the run/test targets below set it for their prerequisites.
DEPS_GROUPS ?= build run
deps:
	@bash tools/install-deps.sh $(DEPS_GROUPS)

# Configures again when the installed groups changed (`make run`, then `make test`): the tests
# that need node or clang are only declared when CMake finds them.
configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ] || \
	    [ "$$(cat $(BUILD_DIR)/.deps-groups 2>/dev/null)" != "$(DEPS_GROUPS)" ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_EXTRA) && \
	  echo "$(DEPS_GROUPS)" > $(BUILD_DIR)/.deps-groups; \
	fi

build: configure
	cmake --build $(BUILD_DIR)

# models/ is served read-only; the registry and compression outputs go to the data directory
# (DATA_DIR, default $$XDG_DATA_HOME/ghostserve or ~/.local/share/ghostserve).
run: build
	$(BUILD_DIR)/server/ghostserve --model_root=models --default_model=ghost-small \
	  --host=$(HOST) --port=$(PORT) --metrics_port=$(METRICS_PORT) \
	  $(if $(DATA_DIR),--data_dir=$(DATA_DIR))

# Python modules for the ghost.v1 API (protoc + grpc_python_plugin) in $(BUILD_DIR)/python, for
# clients/python/ghost_client.py: PYTHONPATH=$(BUILD_DIR)/python /usr/bin/python3 ...
python-stubs: configure
	cmake --build $(BUILD_DIR) --target python_stubs

test: DEPS_GROUPS = build run test
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(CTEST_JOBS)

# All unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer (any report
# fails the test: halt_on_error, UBSan without recovery). Optimized (RelWithDebInfo), so that the
# pass fits CI's time; test time limits are scaled 4x there; the fuzzers, sanitized builds of
# their own, run in `make test`.
test-asan:
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo \
	  CMAKE_EXTRA=-DGHOST_SANITIZE=ON

# The container image for real (tools/deploy/deploy_test.sh; deploy/README.md): podman build,
# run, health, generate, compression, dashboard queries through Prometheus, SIGTERM drain,
# restart on the same volume. Not part of `test`: the image build compiles the whole server.
deploy-test:
	bash tools/deploy/deploy_test.sh

clean:
	rm -rf $(BUILD_DIR)
