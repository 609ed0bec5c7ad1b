/**
 * A ~150 MB, 4-layer OCI image for benchmarks, made from files already on the
 * machine (/usr/lib, /usr/share: real binaries and text, so compression ratios
 * are realistic) with GNU tar and gzip, written by bench/oci-layout.ts; and an
 * app image on top of any such image. Not a test fixture: its bytes depend on
 * the machine.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OciLayoutWriter, readLayout } from './oci-layout.ts';

const TARGET_BYTES = 150 * 1024 * 1024;

/** Files under `roots` up to `budget` bytes, in a stable order. */
function pickFiles(roots: string[], budget: number): string[] {
  const list = execFileSync('find', [...roots, '-xdev', '-type', 'f', '-size', '-8M', '-printf', '%s %p\\n'], { maxBuffer: 1 << 28 })
    .toString().trim().split('\n').sort((a, b) => (a.split(' ')[1] < b.split(' ')[1] ? -1 : 1));
  const out: string[] = [];
  let total = 0;
  for (const line of list) {
    const sp = line.indexOf(' ');
    const size = Number(line.slice(0, sp));
    if (total + size > budget) continue;
    out.push(line.slice(sp + 1).slice(1));
    total += size;
  }
  return out;
}

/**
 * `base` plus one small top layer (an app: a few files under /app and a
 * changed /etc file), as a separate layout sharing the base image's lower
 * layers: what an incremental build should only decode the top of.
 */
export function makeAppImage(dir: string, base: string): string {
  if (existsSync(join(dir, 'index.json'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  const out = new OciLayoutWriter(dir);
  const { manifest, config, blob } = readLayout(base);
  for (const l of manifest.layers) out.put(blob(l));
  const app = mkdtempSync(join(tmpdir(), 'hb-big-app-'));
  mkdirSync(join(app, 'app'));
  mkdirSync(join(app, 'etc'));
  for (let i = 0; i < 20; i++) writeFileSync(join(app, 'app', `module${i}.js`), `export const n = ${i};\n`.repeat(200));
  writeFileSync(join(app, 'etc', 'app.conf'), 'listen 8080\n');
  const tar = execFileSync('tar', ['--sort=name', '--mtime=@1700000100', '--owner=0', '--group=0', '--numeric-owner', '-C', app, '-cf', '-', 'app', 'etc'], { maxBuffer: 1 << 26 });
  rmSync(app, { recursive: true, force: true });
  const layer = out.gzipLayer(tar);
  config.rootfs.diff_ids.push(layer.diffId);
  const newConfig = out.put(Buffer.from(JSON.stringify(config)));
  out.finish({ ...manifest.config, ...newConfig }, [...manifest.layers, layer.blob], manifest);
  return dir;
}

export function makeBigImage(dir: string): string {
  if (existsSync(join(dir, 'index.json'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  const out = new OciLayoutWriter(dir);
  const layerRoots = [['/usr/lib/x86_64-linux-gnu'], ['/usr/share/doc', '/usr/share/locale', '/usr/share/perl'], ['/usr/lib/python3', '/usr/share/zoneinfo', '/usr/bin']];
  const layers = layerRoots.map((roots) => {
    const files = pickFiles(roots, TARGET_BYTES / layerRoots.length);
    return out.gzipLayer(execFileSync('tar', ['--sort=name', '--mtime=@1700000000', '--owner=0', '--group=0', '--numeric-owner', '--format=pax', '-C', '/', '-cf', '-', '--no-recursion', '--files-from=-'], { input: files.join('\n'), maxBuffer: 1 << 30 }));
  });
  // A last small layer with busybox, so the image can run `true` and `sh` when booted.
  const bin = mkdtempSync(join(tmpdir(), 'hb-big-bin-'));
  mkdirSync(join(bin, 'bin'));
  copyFileSync('/bin/busybox', join(bin, 'bin/busybox'));
  for (const applet of ['sh', 'true']) symlinkSync('busybox', join(bin, 'bin', applet));
  const binTar = execFileSync('tar', ['--sort=name', '--mtime=@1700000000', '--owner=0', '--group=0', '--numeric-owner', '-C', bin, '-cf', '-', 'bin'], { maxBuffer: 1 << 26 });
  rmSync(bin, { recursive: true, force: true });
  layers.push(out.gzipLayer(binTar));
  out.image({ Env: ['PATH=/bin:/usr/bin'], Cmd: ['/bin/true'] }, layers);
  return dir;
}
