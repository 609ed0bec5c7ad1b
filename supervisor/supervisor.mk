# hyperbuild-supervisor: the small static C process that owns a detached VM
# (`hyperbuild run -d`; supervisor/sv.h). Included by the top Makefile; built
# like HyperStart (musl-gcc when present, static, stripped, no build-id). It
# links HyperStart's protocol.c, the one C home of the frame codecs.
SV_DIR := supervisor
SV_OUT := $(SV_DIR)/out/hyperbuild-supervisor
SV_SRCS := $(wildcard $(SV_DIR)/*.c) initramfs/hyperstart/protocol.c
SV_HDRS := $(wildcard $(SV_DIR)/*.h) initramfs/hyperstart/protocol.h
SV_CC := $(shell command -v musl-gcc >/dev/null 2>&1 && echo musl-gcc || echo gcc)
SV_CFLAGS := -std=gnu11 -Os -Wall -Wextra -Werror -static -Iinitramfs/hyperstart \
	-ffile-prefix-map=$(CURDIR)=. -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -D_GNU_SOURCE
SV_LDFLAGS := -static -s -Wl,--gc-sections -Wl,--build-id=none

.PHONY: supervisor supervisor-clean
supervisor: $(SV_OUT)

$(SV_OUT): $(SV_SRCS) $(SV_HDRS) $(SV_DIR)/supervisor.mk
	@mkdir -p $(@D)
	$(SV_CC) $(SV_CFLAGS) -o $@ $(sort $(SV_SRCS)) $(SV_LDFLAGS)

supervisor-clean:
	rm -rf $(SV_DIR)/out
