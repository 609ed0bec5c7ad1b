kernel:
.PHONY: kernel
