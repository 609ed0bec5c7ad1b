# HyperKernel: the minimal guest kernel, built from Debian's linux-source-6.1
# into the hyperbuild cache. kernel/build.sh owns the recipe and skips the
# build when this config (fragment + source version + gcc) is already cached,
# so `make kernel` is cheap to repeat. HYPERBUILD_KERNEL_CACHE_DIR overrides the
# default cache ($XDG_CACHE_HOME/hyperbuild or ~/.cache/hyperbuild).
KERNEL_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: kernel kernel-check
kernel:
	$(KERNEL_DIR)/build.sh

# The fast tests: config checker and format detection (no full kernel build).
kernel-check:
	node --import tsx node_modules/uvu/bin.js tests kernel-
