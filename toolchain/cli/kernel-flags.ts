/**
 * The kernel flags shared by the commands that pick or cache a kernel
 * (build, boot, kernel build, kernel ls). The kernel cache has its own
 * location, never derived from `--cache-dir` (see kernel/kernel-cache.ts).
 */
import { Flags } from '@oclif/core';
import { defaultKernelCacheDir } from '../kernel/kernel-cache.ts';

export const kernelCacheDirFlag = Flags.string({
  // No `env:` here: defaultKernelCacheDir reads HYPERBUILD_KERNEL_CACHE_DIR itself, with the same rule as kernel/build.sh.
  default: defaultKernelCacheDir(),
  defaultHelp: async () => '$HYPERBUILD_KERNEL_CACHE_DIR, else $XDG_CACHE_HOME/hyperbuild (not --cache-dir)',
  description: 'where built and downloaded kernels are cached; independent of --cache-dir, so a clean cache never changes the kernel',
});
