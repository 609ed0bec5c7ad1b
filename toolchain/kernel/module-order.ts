/**
 * The order in which HyperStart must insmod a modular kernel's modules:
 * every module after all of its dependencies, as modprobe would, computed
 * from depmod's modules.dep ("path: dep-path dep-path ..."). HyperStart has
 * no modprobe and no depmod data, so the list is fixed at build time.
 */
import { basename } from 'node:path';
import { HyperbuildError } from '../errors/errors.ts';

export interface ModuleEntry {
  /** Path as written in modules.dep, relative to /lib/modules/<release>/. */
  path: string;
  name: string;
  deps: string[];
}

/** Module names are file names without .ko[.xz|.zst|.gz], with '-' read as '_' (as the kernel does). */
export function moduleName(path: string): string {
  return basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

export function parseModulesDep(text: string): Map<string, ModuleEntry> {
  const modules = new Map<string, ModuleEntry>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    modules.set(moduleName(path), { path, name: moduleName(path), deps });
  }
  return modules;
}

/**
 * Wanted modules plus their dependencies, dependencies first, each once.
 * Names in `builtin` (modules.builtin) are satisfied already and skipped.
 */
export function moduleLoadOrder(modules: Map<string, ModuleEntry>, wanted: readonly string[], builtin: ReadonlySet<string> = new Set()): ModuleEntry[] {
  const order: ModuleEntry[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, neededBy: string | undefined) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new HyperbuildError(`kernel module dependency cycle through ${name}`);
    const entry = modules.get(name);
    if (!entry) {
      if (builtin.has(name)) return state.set(name, 'done'), undefined;
      throw new HyperbuildError(`kernel module ${name}${neededBy ? ` (needed by ${neededBy})` : ''} is not in modules.dep`, {
        hint: 'this kernel lacks a driver hyperbuild needs; use HyperKernel (`make kernel`) or another --kernel',
      });
    }
    state.set(name, 'visiting');
    for (const dep of entry.deps) visit(moduleName(dep), name);
    state.set(name, 'done');
    order.push(entry);
  };
  for (const name of wanted) visit(name.replace(/-/g, '_'), undefined);
  return order;
}
