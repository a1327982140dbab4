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
#   make install  the tools, kp_core.ko, the man pages and the boot unit under
#                 $(DESTDIR)$(PREFIX) (PREFIX=/usr/local; docs/kpctl.md, "Installing")
#   make deb      kp itself as a Debian package, build/deb/kp_VERSION_amd64.deb

BUILD     := $(CURDIR)/build
KDIR      ?= $(BUILD)/linux
USERSPACE := $(BUILD)/userspace
JOBS      ?= $(shell nproc)
PYTEST    ?= /usr/bin/python3 -m pytest
# QEMU guests booted at once by the integration tests: pytest-xdist workers, whole test
# files each (--dist loadfile); 0 runs them one after the other in one process.
TEST_WORKERS ?= 2

.PHONY: deps all kernel modules fs-tree check unit integration demo demo-debian bench clean \
	install install-tools install-core deb

# Where `make install` puts things (as a distribution package would, under DESTDIR).
# kpctl's state folder and module root are fixed when kpctl is built (CMake cache
# KPCTL_DEFAULT_STATE_DIR, default /var/lib/kp; the unit names the state folder too).
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
SBINDIR  ?= $(PREFIX)/sbin
DATADIR  ?= $(PREFIX)/share/kp
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system
MODROOT  ?= /lib/modules
STATEDIR ?= /var/lib/kp
# kp has no release numbers yet: 0~gitDATE.COMMIT sorts by commit date.
KP_VERSION ?= $(shell git log -1 --date=format:%Y%m%d --format='0~git%cd.%h' 2>/dev/null || echo 0~local)
# The tools' man pages (section 1) are their --help (help2man); kpctl's is docs/kpctl.md.
MAN1     := kp-build diffgen kp-run-pre kp-package
# kp-build's own files at run time (source_dir.h): found in $(DATADIR) beside bin/.
KP_DATA  := $(shell find kmod/core kmod/patch include/kp -type f \
              \( -name '*.[ch]' -o -name '*.lds' -o -name Kbuild -o -name Makefile \) \
              ! -name '*.mod.c' 2>/dev/null | sort) patch-tools/debian_archive.py

all: deps
	cmake -S . -B $(USERSPACE) -DKP_BUILD_DIR=$(BUILD) >/dev/null
	cmake --build $(USERSPACE) -j$(JOBS)

deps:
	@bash scripts/deps.sh

kernel: deps
	@bash vm-images/build-kernel.sh $(BUILD)

modules: kernel
	@if [ -f kmod/Makefile ]; then $(MAKE) -C kmod KDIR=$(KDIR); fi

# diffgen's real-object tests need function-sections objects of the test kernel: kp-build's
# cache tree (build/kp-build-cache) with a few directories' originals compiled
# (--prebuild), which the integration tests use too.
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

# The tools (kp-build, diffgen, kp-run-pre, kp-package in BINDIR; kpctl in SBINDIR),
# kp-build's files (DATADIR), the man pages and kp.service.  `make all` first.
install-tools:
	@test -x $(BUILD)/bin/kpctl || { echo "install: nothing built; run make all" >&2; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD)/bin/kp-build $(BUILD)/bin/diffgen $(BUILD)/bin/kp-run-pre \
		patch-tools/kp-package $(DESTDIR)$(BINDIR)/
	install -m 0755 $(BUILD)/bin/kpctl $(DESTDIR)$(SBINDIR)/
	for f in $(KP_DATA); do install -D -m 0644 $$f $(DESTDIR)$(DATADIR)/$$f || exit 1; done
	install -d $(DESTDIR)$(MANDIR)/man1
	lowdown -s -Tman -M title=kpctl -M section=8 -M source=kp docs/kpctl.md \
		| sed '1,/^kpctl(8) — /s/^kpctl(8) — \(.*\)/NAME\nkpctl \\- \1/' \
		| gzip -9n > $(DESTDIR)$(MANDIR)/man8/kpctl.8.gz
	for t in $(MAN1); do \
		help2man -N --no-info --version-string='$(KP_VERSION)' \
			--name "$$(sed -n "s/^$$t: //p" dist/man1-names)" $(BUILD)/bin/$$t \
			| gzip -9n > $(DESTDIR)$(MANDIR)/man1/$$t.1.gz || exit 1; \
	done
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@STATEDIR@|$(STATEDIR)|g' \
		dist/systemd/kp.service.in > $(DESTDIR)$(UNITDIR)/kp.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/kp.service

# kp_core.ko of `make modules`, for the kernel it was built against, where kpctl looks
# for it last (MODROOT/RELEASE/extra).  Patches built by kp-build carry their own.
install-core:
	@test -f kmod/core/kp_core.ko || { echo "install: kmod/core/kp_core.ko not built; run make modules" >&2; exit 1; }
	install -D -m 0644 kmod/core/kp_core.ko \
		$(DESTDIR)$(MODROOT)/$$(cat $(KDIR)/include/config/kernel.release)/extra/kp_core.ko

install: install-tools install-core

# kp itself as a .deb (dist/deb/build-kp-deb.sh): the tools, kp-build's files, kpctl(8) and
# kp.service enabled, from what `make all` built; lintian checks it.
deb:
	@KP_VERSION='$(KP_VERSION)' bash dist/deb/build-kp-deb.sh $(BUILD)

# Works on a clone that built nothing: kmod/'s clean needs no kernel tree.
clean:
	rm -rf $(USERSPACE) $(BUILD)/bin $(BUILD)/deb
	@if [ -f kmod/Makefile ]; then $(MAKE) -C kmod KDIR=$(KDIR) clean; fi
