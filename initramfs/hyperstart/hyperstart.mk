# HyperStart: the guest's PID 1, a static C binary (included by the top Makefile).
# Built with musl (Debian musl-tools) for a small static binary; plain glibc
# `gcc -static` works too when musl-gcc is missing. Reproducible: no
# timestamps in the code, build paths mapped away, no build-id.
# Every .c directly in $(HS_DIR) is part of the binary (layers in PROTOCOL.md
# "Boot sequence"); $(HS_DIR)/test/ holds host-only test drivers, compiled by
# tests/hyperstart-spec-c.test.ts and never linked into HyperStart.
HS_DIR := initramfs/hyperstart
HS_OUT := $(HS_DIR)/out/hyperstart
HS_SRCS := $(wildcard $(HS_DIR)/*.c)
HS_HDRS := $(wildcard $(HS_DIR)/*.h)
HS_CC := $(shell command -v musl-gcc >/dev/null 2>&1 && echo musl-gcc || echo gcc)
HS_CFLAGS := -std=gnu11 -Os -Wall -Wextra -Werror -static \
	-ffile-prefix-map=$(CURDIR)=. -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -D_GNU_SOURCE
HS_LDFLAGS := -static -s -Wl,--gc-sections -Wl,--build-id=none

.PHONY: hyperstart hyperstart-clean
hyperstart: $(HS_OUT)

$(HS_OUT): $(HS_SRCS) $(HS_HDRS) $(HS_DIR)/hyperstart.mk
	@mkdir -p $(@D)
	$(HS_CC) $(HS_CFLAGS) -o $@ $(sort $(HS_SRCS)) $(HS_LDFLAGS)

hyperstart-clean:
	rm -rf $(HS_DIR)/out
