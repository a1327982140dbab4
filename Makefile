# kp: live patching for Linux 6.1 x86_64.  See README.md.
#
#   make deps     install the Debian packages kp needs (scripts/deps.sh)
#   make all      C++ userspace into build/userspace; the tools (kp-build, kpctl, diffgen)
#                 in build/bin
#   make kernel   the test kernel in build/linux (cached)
#   make modules  kernel modules (kmod/) against the test kernel
#   make check    unit + integration tests (integration: TEST_WORKERS=2 QEMU guests at once)
#   make demo     source fix -> patch module -> patched kernel in QEMU
#   make demo-debian  the same for Debian's own cloud kernel (packages fetched, not installed)
#   make bench    benchmarks (docs/benchmarks.md)

BUILD     := $(CURDIR)/build
KDIR      ?= $(BUILD)/linux
USERSPACE := $(BUILD)/userspace
JOBS      ?= $(shell nproc)
PYTEST    ?= /usr/bin/python3 -m pytest
# QEMU guests booted at once by the integration tests: pytest-xdist workers, whole test
# files each (--dist loadfile); 0 runs them one after the other in one process.
TEST_WORKERS ?= 2

.PHONY: deps all kernel modules fs-tree check unit integration demo demo-debian bench clean

all: deps
	cmake -S . -B $(USERSPACE) -DKP_BUILD_DIR=$(BUILD) >/dev/null
	cmake --build $(USERSPACE) -j$(JOBS)

deps:
	@bash scripts/deps.sh

kernel: deps
	@bash vm-images/build-kernel.sh $(BUILD)

modules: kernel
	@if [ -f kmod/Makefile ]; then $(MAKE) -C kmod KDIR=$(KDIR); fi

# diffgen's real-object tests need a function-sections build of the test kernel: kp-build's
# cached original build (build/kp-build-cache), which the integration tests use too.
fs-tree: all kernel
	@bash test/unit/diffgen/real-objects.sh $(BUILD)

unit: all kernel modules fs-tree
	ctest --test-dir $(USERSPACE) --output-on-failure

# KP_KMOD_BUILT: the tests take kmod/'s modules as `modules` just built them.
integration: all kernel modules
	KP_KMOD_BUILT=1 $(PYTEST) -v -n $(TEST_WORKERS) --dist loadfile --durations=40 test/integration

check: unit integration

demo: all kernel modules
	@if [ -x scripts/demo.sh ]; then bash scripts/demo.sh; else echo "demo: not built yet (issue 4)"; exit 1; fi

demo-debian: all
	@bash scripts/demo.sh --debian

bench: all kernel modules
	@bash scripts/bench.sh

# Works on a clone that built nothing: kmod/'s clean needs no kernel tree.
clean:
	rm -rf $(USERSPACE) $(BUILD)/bin
	@if [ -f kmod/Makefile ]; then $(MAKE) -C kmod KDIR=$(KDIR) clean; fi
