# hyperbuild — top-level targets. Component rules live beside their sources:
#   initramfs/hyperstart/hyperstart.mk   (HyperStart, static C)
#   kernel/kernel.mk                     (HyperKernel from linux-source-6.1)
#   supervisor/supervisor.mk             (the detached-VM supervisor, static C)
#
#   make demo    fresh Debian machine → build the example image and boot it
#   make test    everything the tests need, then the whole suite
#   make bench   the benchmarks (not tests: they time things)
SHELL := /bin/bash
.DEFAULT_GOAL := all

# What the project needs from Debian (installed by `make deps` when missing). Every program
# the code, tests, benchmarks and scripts run must come from one of these or from the Debian
# base system: tests/deps-packages.test.ts checks that with dpkg -S. python3 (the stdlib the
# pty test driver imports) and python3-minimal (which owns /usr/bin/python3) are both named;
# buildah builds templates/buildah's image (tests/templates-make.test.ts runs that Makefile);
# debootstrap makes the build benchmark's Debian image (bench/make-debian-image.ts).
APT_PACKAGES := qemu-system-x86 cpio busybox-static musl-tools gcc binutils make zstd lz4 gzip xz-utils bzip2 \
	e2fsprogs erofs-utils fakeroot attr libcap2-bin libarchive-tools openssl apache2-utils skopeo umoci docker-registry \
	linux-source-6.1 flex bison bc libelf-dev libssl-dev kmod curl procps iproute2 \
	git python3 python3-minimal time libvirt-clients libxml2-utils \
	qemu-system-common libvirt-daemon libvirt-daemon-driver-qemu \
	buildah debootstrap
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

NODE_MODULES := node_modules/.package-lock.json
CLI := dist/hyperbuild.js
FIXTURE_IMAGES := fixtures/out/busybox/index.json

include initramfs/hyperstart/hyperstart.mk
include kernel/kernel.mk
include supervisor/supervisor.mk

.PHONY: all deps deps-host cli typecheck fixtures demo test bench clean fuzz

all: cli hyperstart supervisor

deps: deps-host $(NODE_MODULES)

deps-host:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# The unprivileged user a root hyperbuild runs QEMU as (toolchain/boot/jail.ts; also created on first use).
	@getent passwd hyperbuild-vm >/dev/null || $(SUDO) useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin hyperbuild-vm

$(NODE_MODULES): package.json
	npm install --no-audit --no-fund
	@touch $@

cli: $(CLI)
$(CLI): $(NODE_MODULES) $(shell find toolchain -name '*.ts' -o -name '*.mjs') package.json
	node toolchain/esbuild.mjs

typecheck: $(NODE_MODULES)
	npx tsc --noEmit -p .

fixtures: $(FIXTURE_IMAGES)
$(FIXTURE_IMAGES): fixtures/make-images.ts $(NODE_MODULES)
	node --import tsx fixtures/make-images.ts fixtures/out

demo: deps cli hyperstart kernel fixtures
	./bin/hyperbuild build oci:fixtures/out/busybox:hello -o out/hello
	./bin/hyperbuild boot out/hello

test: deps cli hyperstart supervisor kernel fixtures
	node --import tsx tests/run.ts

bench: deps cli hyperstart supervisor kernel fixtures
	node --import tsx bench/run.ts

# A long fuzz run with a random seed (printed first); each failing case is printed with its seed.
# FUZZ_CASES=N for another length; `node --import tsx tests/fuzz/run.ts --case-seed S` reruns one.
FUZZ_CASES ?= 3000
fuzz: deps cli hyperstart kernel
	node --import tsx tests/fuzz/run.ts --cases $(FUZZ_CASES)

clean: hyperstart-clean supervisor-clean
	rm -rf dist out fixtures/out
