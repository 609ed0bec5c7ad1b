# hyperbuild — top-level targets. Component rules live beside their sources:
#   initramfs/hyperstart/hyperstart.mk   (HyperStart, static C)
#   kernel/kernel.mk                     (HyperKernel from linux-source-6.1)
SHELL := /bin/bash
.DEFAULT_GOAL := all

NODE_MODULES := node_modules/.package-lock.json
CLI := dist/hyperbuild.js

include initramfs/hyperstart/hyperstart.mk
include kernel/kernel.mk

.PHONY: all deps cli typecheck test demo bench clean

all: cli hyperstart

$(NODE_MODULES): package.json
	npm install --no-audit --no-fund
	@touch $@

deps: $(NODE_MODULES)

cli: $(CLI)
$(CLI): $(NODE_MODULES) $(shell find toolchain -name '*.ts' -o -name '*.mjs') package.json
	node toolchain/esbuild.mjs

typecheck: $(NODE_MODULES)
	npx tsc --noEmit -p .

clean:
	rm -rf dist out
