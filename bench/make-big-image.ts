/**
 * A ~150 MB, 4-layer OCI image for benchmarks, made from files already on the
 * machine (/usr/lib, /usr/share: real binaries and text, so compression ratios
 * are realistic) with GNU tar and gzip. Not a test fixture: its bytes depend on
 * the machine.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TARGET_BYTES = 150 * 1024 * 1024;

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

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
 * The big image plus one small top layer (an app: a few files under /app
 * and a changed /etc file), as a separate layout sharing the big image's
 * lower layers: what an incremental build should only decode the top of.
 */
export function makeBigAppImage(dir: string, base: string): string {
  if (existsSync(join(dir, 'index.json'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  const read = (digest: string) => readFileSync(join(base, 'blobs/sha256', digest.slice('sha256:'.length)));
  const put = (b: Buffer) => {
    const d = sha256(b);
    writeFileSync(join(dir, 'blobs/sha256', d), b);
    return { digest: `sha256:${d}`, size: b.length };
  };
  const index = JSON.parse(readFileSync(join(base, 'index.json'), 'utf8'));
  const manifest = JSON.parse(read(index.manifests[0].digest).toString());
  const config = JSON.parse(read(manifest.config.digest).toString());
  for (const l of manifest.layers) put(read(l.digest));
  const app = mkdtempSync(join(tmpdir(), 'hb-big-app-'));
  mkdirSync(join(app, 'app'));
  mkdirSync(join(app, 'etc'));
  for (let i = 0; i < 20; i++) writeFileSync(join(app, 'app', `module${i}.js`), `export const n = ${i};\n`.repeat(200));
  writeFileSync(join(app, 'etc', 'app.conf'), 'listen 8080\n');
  const tar = execFileSync('tar', ['--sort=name', '--mtime=@1700000100', '--owner=0', '--group=0', '--numeric-owner', '-C', app, '-cf', '-', 'app', 'etc'], { maxBuffer: 1 << 26 });
  rmSync(app, { recursive: true, force: true });
  const layer = put(execFileSync('gzip', ['-n', '-6'], { input: tar }));
  config.rootfs.diff_ids.push(`sha256:${sha256(tar)}`);
  const newConfig = put(Buffer.from(JSON.stringify(config)));
  const newManifest = put(Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, ...newConfig }, layers: [...manifest.layers, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }] })));
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...newManifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
  }));
  return dir;
}

export function makeBigImage(dir: string): string {
  if (existsSync(join(dir, 'index.json'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  const put = (b: Buffer) => {
    const d = sha256(b);
    writeFileSync(join(dir, 'blobs/sha256', d), b);
    return { digest: `sha256:${d}`, size: b.length };
  };
  const layerRoots = [['/usr/lib/x86_64-linux-gnu'], ['/usr/share/doc', '/usr/share/locale', '/usr/share/perl'], ['/usr/lib/python3', '/usr/share/zoneinfo', '/usr/bin']];
  const layers = layerRoots.map((roots) => {
    const files = pickFiles(roots, TARGET_BYTES / layerRoots.length);
    const tar = execFileSync('tar', ['--sort=name', '--mtime=@1700000000', '--owner=0', '--group=0', '--numeric-owner', '--format=pax', '-C', '/', '-cf', '-', '--no-recursion', '--files-from=-'], { input: files.join('\n'), maxBuffer: 1 << 30 });
    const gz = execFileSync('gzip', ['-n', '-6'], { input: tar, maxBuffer: 1 << 30 });
    return { diffId: `sha256:${sha256(tar)}`, blob: put(gz) };
  });
  // A last small layer with busybox, so the image can run `true` and `sh` when booted.
  const bin = mkdtempSync(join(tmpdir(), 'hb-big-bin-'));
  mkdirSync(join(bin, 'bin'));
  copyFileSync('/bin/busybox', join(bin, 'bin/busybox'));
  for (const applet of ['sh', 'true']) symlinkSync('busybox', join(bin, 'bin', applet));
  const binTar = execFileSync('tar', ['--sort=name', '--mtime=@1700000000', '--owner=0', '--group=0', '--numeric-owner', '-C', bin, '-cf', '-', 'bin'], { maxBuffer: 1 << 26 });
  rmSync(bin, { recursive: true, force: true });
  layers.push({ diffId: `sha256:${sha256(binTar)}`, blob: put(execFileSync('gzip', ['-n', '-6'], { input: binTar })) });
  const config = put(Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin:/usr/bin'], Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  })));
  const manifest = put(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l.blob })),
  })));
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
  }));
  return dir;
}
