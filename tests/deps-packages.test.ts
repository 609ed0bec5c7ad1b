/**
 * `make deps` installs every program the project runs: each program that
 * toolchain/, tests/, bench/, fixtures/, kernel/, initramfs/ and the
 * Makefiles start (found by reading the code: helpers/spawned-programs.ts for
 * TypeScript, helpers/shell-words.ts for shell and Make) must resolve on a
 * plain system PATH, and `dpkg -S` must name its package, which must be in
 * the Makefile's APT_PACKAGES or be Essential/priority-required (what a fresh
 * Debian 12 minbase has). Checked against dpkg's database, so it cannot pass
 * because this machine happens to have extra packages.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { makeVariables, scanMakefile, scanShell } from './helpers/shell-words.ts';
import { scanTypeScript, type Found, type Unresolved } from './helpers/spawned-programs.ts';
import { ROOT } from './helpers/cli.ts';

const SCANNED_DIRS = ['toolchain', 'tests', 'bench', 'fixtures', 'kernel', 'initramfs'];
/** A fresh Debian's PATH for root: programs only in /usr/local or ~/.something are not from a package. */
const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Spawn sites whose program is known only at run time, and why that is no
 * package to install. Each must still match a site (a stale entry fails).
 */
const ACCOUNTED: { file: RegExp; expression: RegExp; why: string }[] = [
  { file: /./, expression: /bin[/', ]+hyperbuild/, why: 'our own CLI (bin/hyperbuild, run by node)' },
  { file: /./, expression: /^join\(kernelSourceDir\(\), '(build|check-config)\.sh'\)$/, why: 'kernel/*.sh, scanned as shell scripts here' },
  { file: /^kernel\/build\.sh$/, expression: /\/check-config\.sh$/, why: 'kernel/check-config.sh, scanned as a shell script here' },
  { file: /./, expression: /merge_config\.sh/, why: "a script inside linux-source-6.1's tree (an APT package)" },
  { file: /^kernel\/kernel\.mk$|^Makefile/, expression: /\/build\.sh$/, why: 'kernel/build.sh, scanned as a shell script here' },
  { file: /^toolchain\/registry\/credential-helper\.ts/, expression: /^docker-credential-/, why: "the credential helper the user's Docker config names (Docker's contract), not ours" },
  { file: /^tests\/hyperstart-vm\.test\.ts/, expression: /command -v mkfs\.ext4/, why: 'the path `command -v mkfs.ext4` prints; mkfs.ext4 is scanned from that shell line' },
  { file: /^tests\/hyperstart-spec-c\.test\.ts/, expression: /^bin$/, why: 'a test program the test has just compiled with gcc' },
  { file: /^toolchain\/vm\//, expression: /'supervisor', 'out', 'hyperbuild-supervisor'/, why: 'our own VM supervisor, built from supervisor/ by make (static C, like HyperStart)' },
  { file: /^toolchain\/boot\/vm-process\.ts/, expression: /^(command|host\.binary)$/, why: "the monitor a backend resolved: QEMU_BINARY (qemu-version.ts, scanned where it is named) or HYPERBUILD_QEMU, and the jail's PROXY_HELPER" },
];

/** Names that are not packages to install, with the reason. */
const NOT_APT: Record<string, string> = {
  node: 'Node 20 is the documented prerequisite (README); Debian 12 ships 18',
  npm: 'comes with Node 20',
  npx: 'comes with Node 20',
  sudo: 'make deps uses it only when not root, and the README asks for root or sudo',
  'zstd-not-installed-here': 'deliberately missing: a test checks the "not installed" error',
};

const PREREQUISITES = new Set(['node', 'npm', 'npx']);

function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'out' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path, keep));
    else if (keep(entry.name)) out.push(path);
  }
  return out;
}

interface Scan {
  found: Found[];
  unresolved: Unresolved[];
  /** How many programs each kind of source contributed (the scan must not be vacuous). */
  bySource: Record<'typescript' | 'shell' | 'make', number>;
}

function scanAll(): Scan {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (!config) throw new Error('cannot read tsconfig.json');
  const sources = SCANNED_DIRS.flatMap((d) => filesUnder(join(ROOT, d), (n) => /\.(ts|mjs)$/.test(n)));
  const tsScan = scanTypeScript(sources, ROOT, { ...config.options, allowJs: true });
  const found = [...tsScan.found];
  const unresolved = [...tsScan.unresolved];
  const bySource = { typescript: found.length, shell: 0, make: 0 };
  for (const file of SCANNED_DIRS.flatMap((d) => filesUnder(join(ROOT, d), (n) => n.endsWith('.sh')))) {
    const where = relative(ROOT, file);
    const s = scanShell(readFileSync(file, 'utf8'));
    found.push(...s.commands.map((program) => ({ program, where })));
    unresolved.push(...s.dynamic.map((expression) => ({ expression, where })));
    bySource.shell += s.commands.length;
  }
  const makefiles = [join(ROOT, 'Makefile'), ...SCANNED_DIRS.flatMap((d) => filesUnder(join(ROOT, d), (n) => n.endsWith('.mk')))];
  const vars = makeVariables(makefiles.map((f) => readFileSync(f, 'utf8')).join('\n'));
  for (const file of makefiles) {
    const where = relative(ROOT, file);
    const s = scanMakefile(readFileSync(file, 'utf8'), vars);
    found.push(...s.commands.map((program) => ({ program, where })));
    unresolved.push(...s.dynamic.map((expression) => ({ expression, where })));
    bySource.make += s.commands.length;
  }
  return { found, unresolved, bySource };
}

const scan = scanAll();

/** Where a program is on a fresh system's PATH (absolute names as given); undefined when it is not installed. */
function resolveProgram(program: string): string | undefined {
  if (program.startsWith('/')) return existsSync(program) ? program : undefined;
  // The executable file on the path, as spawn() finds it (`command -v` would answer a shell builtin such as `true` by its name).
  for (const dir of SYSTEM_PATH.split(':')) {
    const path = join(dir, program);
    try {
      if (statSync(path).isFile() && (statSync(path).mode & 0o111) !== 0) return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** /bin/x and /usr/bin/x are one file on merged-/usr Debian, but dpkg knows only the name the package ships. */
function pathAliases(path: string): string[] {
  const names = [path];
  try {
    const real = realpathSync(path);
    if (real !== path) names.push(real);
  } catch {
    // A dangling link: the name alone.
  }
  const swap = (p: string) => (/^\/(bin|sbin|lib)\//.test(p) ? `/usr${p}` : /^\/usr\/(bin|sbin|lib)\//.test(p) ? p.slice('/usr'.length) : undefined);
  return [...new Set(names.flatMap((p) => [p, swap(p)].filter((x): x is string => !!x)))];
}

/** The Debian package owning each file, by one `dpkg -S` over every alias (dpkg exits 1 when some have none). */
function owningPackages(paths: string[]): Map<string, string> {
  const names = [...new Set(paths.flatMap(pathAliases))];
  const r = spawnSync('dpkg', ['-S', ...names], { encoding: 'utf8' });
  const owner = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const at = line.lastIndexOf(': /');
    if (at < 0 || line.startsWith('diversion ')) continue;
    owner.set(line.slice(at + 2), line.slice(0, at).split(', ')[0].replace(/:[\w-]+$/, ''));
  }
  const result = new Map<string, string>();
  for (const p of paths) {
    const pkg = pathAliases(p).map((n) => owner.get(n)).find(Boolean);
    if (pkg) result.set(p, pkg);
  }
  return result;
}

/** Essential or priority-required packages: what debootstrap --variant=minbase installs. */
function basePackages(): Set<string> {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${Essential} ${Priority}\n'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => l.split(' '));
  return new Set(lines.filter(([, essential, priority]) => essential === 'yes' || priority === 'required').map(([name]) => name));
}

function aptPackages(): Set<string> {
  const value = makeVariables(readFileSync(join(ROOT, 'Makefile'), 'utf8')).get('APT_PACKAGES');
  assert.ok(value, 'the Makefile defines APT_PACKAGES');
  return new Set(value.split(/\s+/).filter(Boolean));
}

test('the scan reads every kind of source (TypeScript spawns, shell scripts, Makefiles)', () => {
  for (const [kind, n] of Object.entries(scan.bySource)) assert.ok(n > 0, `${kind}: no program found`);
  const programs = new Set(scan.found.map((f) => f.program));
  // One from each route the code takes to a program: a literal, a `command:` field read through its type, a constant, a shell line, a Makefile recipe.
  for (const p of ['git', 'mkfs.ext4', 'qemu-system-x86_64', 'cpio', 'apt-get']) assert.ok(programs.has(p), `${p} not found by the scan`);
});

test('every spawn whose program is known only at run time is accounted for', () => {
  const unexplained = scan.unresolved.filter((u) => !ACCOUNTED.some((a) => a.file.test(u.where) && a.expression.test(u.expression)));
  assert.equal(unexplained.map((u) => `${u.where}: ${u.expression.slice(0, 120)}`), [], 'spawn sites with a program this test cannot see: name the program literally, or add it to ACCOUNTED with the reason');
  const stale = ACCOUNTED.filter((a) => !scan.unresolved.some((u) => a.file.test(u.where) && a.expression.test(u.expression)));
  assert.equal(stale.map((a) => `${a.expression}: ${a.why}`), [], 'ACCOUNTED entries that match no spawn site any more');
});

test('every program is installed, and comes from a package in APT_PACKAGES or in the Debian base system', () => {
  const apt = aptPackages();
  const base = basePackages();
  const problems: string[] = [];
  const byProgram = new Map<string, string[]>();
  for (const f of scan.found) byProgram.set(f.program, [...(byProgram.get(f.program) ?? []), f.where]);
  const paths = new Map([...byProgram.keys()].map((p) => [p, resolveProgram(p)]));
  const owners = owningPackages([...paths.values()].filter((p): p is string => !!p));
  for (const [program, where] of [...byProgram].sort()) {
    const at = `(run from ${[...new Set(where)].slice(0, 2).join(', ')})`;
    if (!program.startsWith('/') && program.includes('/')) {
      if (!existsSync(join(ROOT, program)) || !statSync(join(ROOT, program)).isFile()) problems.push(`${program} ${at}: not a file in this repository`);
      continue;
    }
    const path = paths.get(program);
    // Node is a prerequisite, not an APT package, but it must be there; the other NOT_APT names need not.
    if (NOT_APT[program] && (path || !PREREQUISITES.has(program))) continue;
    if (!path) {
      problems.push(`${program} ${at}: not installed (not on ${SYSTEM_PATH})`);
      continue;
    }
    const pkg = owners.get(path);
    if (!pkg) problems.push(`${program} ${at}: ${path} belongs to no Debian package`);
    else if (!apt.has(pkg) && !base.has(pkg)) problems.push(`${program} ${at}: package ${pkg} is neither in the Makefile's APT_PACKAGES nor Essential/required`);
  }
  assert.equal(problems, [], 'add the package to APT_PACKAGES in the Makefile');
});

test.run();
