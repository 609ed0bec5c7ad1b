/**
 * A new VM's place in the state root: a fresh ID, its directory (0711: QEMU's
 * jail user must reach `chan/`, nobody may list it; every file in it is
 * 0600), the `chan/` channel directory, and its name claimed. Undone whole
 * when anything fails before the VM starts, so a refused run leaves nothing.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { claimName, defaultName, assertValidName, newId, releaseName, shortId } from './names.ts';
import { nameLink, vmDir } from './state-dir.ts';
import type { ChannelEndpoints } from '../boot/hypervisor.ts';

export interface NewVm {
  root: string;
  id: string;
  name: string;
  dir: string;
  nameLink: string;
}

/** The channel sockets the supervisor makes and QEMU connects to (absolute: the jail copies files beside them). */
export function channelEndpoints(dir: string): ChannelEndpoints {
  const chan = join(dir, 'chan');
  return { control: join(chan, 'ctl.sock'), stdout: join(chan, 'out.sock'), stderr: join(chan, 'err.sock'), console: join(chan, 'con.sock') };
}

export function createVm(root: string, bundleDir: string, name?: string): NewVm {
  if (name !== undefined) assertValidName(name);
  let id = newId();
  for (;;) {
    try {
      mkdirSync(vmDir(root, shortId(id)), { mode: 0o711 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      id = newId(); // a short-ID collision: draw again
    }
  }
  const dir = vmDir(root, shortId(id));
  chmodSync(root, 0o711);
  const vm: NewVm = { root, id, name: name ?? defaultName(bundleDir, id), dir, nameLink: '' };
  try {
    claimName(root, vm.name, id);
    mkdirSync(join(dir, 'chan'), { mode: 0o700 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { ...vm, nameLink: nameLink(root, vm.name) };
}

/** Undo createVm (and anything written into the directory since). */
export function discardVm(vm: NewVm): void {
  rmSync(vm.dir, { recursive: true, force: true });
  releaseName(vm.root, vm.name, vm.id);
}
