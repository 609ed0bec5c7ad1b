/**
 * The build's small young generation, set while the process runs instead of
 * on Node's command line. A build streams hundreds of MiB through short-lived
 * Buffers, freed only when V8 collects; a young generation that stays small
 * collects them sooner (README, Measurements: Memory). But any V8 flag given
 * at start makes Node reject the code cache of its built-in modules, which
 * then compile from source (~30 ms more CPU for a no-op build), so the lean
 * CLI starts without flags and caps the young generation once the command's
 * modules are loaded: `--semi-space-growth-factor=1` keeps V8's semi-spaces at
 * their initial 1 MiB. A flag changed at run time is part of what V8 stamps on
 * a code cache it makes, so it is put back before one is made (code-cache.ts).
 */
import { setFlagsFromString } from 'node:v8';

/** V8's own default, restored before a code cache is made. */
const DEFAULT_GROWTH_FACTOR = 2;

let capped = false;

/** Stop the young generation from growing beyond its initial size, from now on. */
export function capYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  capped = true;
}

/** Put V8's flags back as they were at start (the young generation keeps its size). */
export function restoreDefaultFlags(): void {
  if (!capped) return;
  setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
  capped = false;
}
