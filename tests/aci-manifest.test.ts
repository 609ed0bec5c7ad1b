import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAciManifest } from '../toolchain/aci/image-manifest.ts';
import { aciImageConfig } from '../toolchain/aci/runtime-config.ts';
import { whitelistFilter } from '../toolchain/aci/path-whitelist.ts';
import { BadInputError } from '../toolchain/errors/errors.ts';

const good = () => ({
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: 'example.com/reduce-worker',
  labels: [{ name: 'version', value: '1.0.0' }, { name: 'os', value: 'linux' }, { name: 'arch', value: 'amd64' }],
  app: {
    exec: ['/usr/bin/reduce-worker', '--quiet'],
    user: '100',
    group: '300',
    workingDirectory: '/opt/work',
    environment: [{ name: 'REDUCE_WORKER_DEBUG', value: 'true' }],
    mountPoints: [{ name: 'work', path: '/var/lib/work', readOnly: false }],
    ports: [{ name: 'health', port: 4000, protocol: 'tcp', socketActivated: true }, { name: 'ftp-data', port: 20000, count: 3, protocol: 'tcp' }],
    eventHandlers: [{ name: 'pre-start', exec: ['/usr/bin/data-downloader'] }],
  },
  dependencies: [{ imageName: 'example.com/reduce-worker-base', labels: [{ name: 'os', value: 'linux' }], size: 22017258 }],
  pathWhitelist: ['/etc/ca/example.com/crt', '/etc/systemd/system/'],
});
const parse = (doc: unknown) => parseAciManifest(Buffer.from(JSON.stringify(doc)), 'test manifest');
const linux = { os: 'linux', architecture: 'amd64' };
const noLookup = async () => undefined;

function refuses(mutate: (d: any) => void, field: RegExp) {
  const doc: any = good();
  mutate(doc);
  try {
    parse(doc);
  } catch (err) {
    assert.instance(err, BadInputError);
    assert.match((err as Error).message, field);
    return;
  }
  assert.unreachable(`expected a refusal matching ${field}`);
}

test('the spec example parses and maps onto the image config', async () => {
  const m = parse(good());
  assert.is(m.name, 'example.com/reduce-worker');
  assert.equal(m.app!.ignored, ['app.eventHandlers']);
  const c = await aciImageConfig(m, linux, noLookup, 'x');
  assert.equal(c.platform, linux);
  assert.equal(c.runtime.entrypoint, []);
  assert.equal(c.runtime.cmd, ['/usr/bin/reduce-worker', '--quiet']);
  assert.equal(c.runtime.env, ['REDUCE_WORKER_DEBUG=true']);
  assert.is(c.runtime.user, '100:300');
  assert.is(c.runtime.workingDir, '/opt/work');
  assert.equal(c.runtime.exposedPorts, ['4000/tcp', '20000/tcp', '20001/tcp', '20002/tcp']);
  assert.equal(c.runtime.portNames, { '4000/tcp': 'health', '20000/tcp': 'ftp-data', '20001/tcp': 'ftp-data', '20002/tcp': 'ftp-data' });
  assert.equal(c.runtime.volumes, ['/var/lib/work']);
  assert.equal(c.runtime.volumeNames, { '/var/lib/work': 'work' });
  assert.equal(c.runtime.labels, { version: '1.0.0', os: 'linux', arch: 'amd64' });
});

test('user/group paths become the owner numbers; names pass through', async () => {
  const doc: any = good();
  doc.app.user = '/usr/bin/ping';
  doc.app.group = 'staff';
  const c = await aciImageConfig(parse(doc), linux, async (p) => (p === '/usr/bin/ping' ? { uid: 7, gid: 8 } : undefined), 'x');
  assert.is(c.runtime.user, '7:staff');
  doc.app.group = '/missing';
  try {
    await aciImageConfig(parse(doc), linux, async (p) => (p === '/usr/bin/ping' ? { uid: 7, gid: 8 } : undefined), 'x');
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /app\.group is the path '\/missing'/);
  }
});

test('refusals name the field', () => {
  refuses((d) => (d.acKind = 'PodManifest'), /acKind must be "ImageManifest"/);
  refuses((d) => delete d.acKind, /acKind is missing/);
  refuses((d) => (d.acVersion = '0.7.4'), /acVersion "0.7.4" is not a supported version/);
  refuses((d) => (d.name = 'Example.com/Upper'), /name 'Example.com\/Upper' is not an AC Identifier/);
  refuses((d) => (d.name = 'example.com//double'), /name .* is not an AC Identifier/);
  refuses((d) => d.labels.push({ name: 'name', value: 'x' }), /labels\[3\]\.name cannot be 'name'/);
  refuses((d) => d.labels.push({ name: 'os', value: 'x' }), /labels\[3\]\.name 'os' appears twice/);
  refuses((d) => (d.app.exec = []), /app\.exec must not be empty/);
  refuses((d) => (d.app.exec = ['bin/sh']), /app\.exec\[0\] must be an absolute path/);
  refuses((d) => (d.app.exec = [1]), /app\.exec\[0\] must be a string/);
  refuses((d) => delete d.app.user, /app\.user is missing/);
  refuses((d) => (d.app.group = ''), /app\.group must not be empty/);
  refuses((d) => (d.app.workingDirectory = 'rel'), /app\.workingDirectory must be an absolute path/);
  refuses((d) => (d.app.environment[0].name = 'A-B'), /app\.environment\[0\]\.name 'A-B'/);
  refuses((d) => (d.app.ports[0].port = 70000), /app\.ports\[0\]\.port must be an integer from 1 to 65535/);
  refuses((d) => (d.app.ports[0].name = 'Health'), /app\.ports\[0\]\.name 'Health' is not an AC Name/);
  refuses((d) => (d.app.mountPoints[0].path = 'var'), /app\.mountPoints\[0\]\.path must be an absolute path/);
  refuses((d) => (d.dependencies[0].imageID = 'sha256-abc'), /dependencies\[0\]\.imageID/);
  refuses((d) => delete d.dependencies[0].imageName, /dependencies\[0\]\.imageName is missing/);
  refuses((d) => (d.pathWhitelist = ['relative']), /pathWhitelist\[0\] must be an absolute path/);
  assert.throws(() => parseAciManifest(Buffer.from('{nope'), 'm'), /m is not valid JSON/);
});

test('platform labels must match the build; appc arch names are mapped', async () => {
  const arm: any = good();
  arm.labels[2].value = 'aarch64';
  const c = await aciImageConfig(parse(arm), { os: 'linux', architecture: 'arm64' }, noLookup, 'x');
  assert.is(c.platform.architecture, 'arm64');
  for (const [label, value, re] of [['os', 'freebsd', /labels os is 'freebsd'/], ['arch', 'i386', /labels arch is 'i386'/]] as const) {
    const doc: any = good();
    doc.labels.find((l: any) => l.name === label).value = value;
    try {
      await aciImageConfig(parse(doc), linux, noLookup, 'x');
      assert.unreachable();
    } catch (err) {
      assert.match((err as Error).message, re);
    }
  }
  const noLabels: any = good();
  noLabels.labels = [];
  assert.equal((await aciImageConfig(parse(noLabels), linux, noLookup, 'x')).platform, linux);
});

test('whitelists: exact paths plus their parent directories; all lists must keep a path; empty means all', () => {
  const keep = whitelistFilter([['/etc/ca/crt', '/usr/bin/x'], [], ['/etc/ca/crt', '/usr/bin/x', '/other']]);
  assert.ok(keep('etc/ca/crt', 'file'));
  assert.ok(keep('etc', 'directory'));
  assert.ok(keep('etc/ca', 'directory'));
  assert.not.ok(keep('etc/ca', 'file'));
  assert.not.ok(keep('etc/ca/other', 'file'));
  assert.not.ok(keep('other', 'file'), 'the first list drops it');
  assert.ok(whitelistFilter([[], []])('anything', 'file'));
});

test.run();
