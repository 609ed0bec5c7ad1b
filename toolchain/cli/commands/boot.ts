/**
 * `hyperbuild boot`: flags → a boot request, refused early when the backend
 * cannot serve it, the target made into a bundle directory (boot-target.ts),
 * then the boot session (toolchain/boot/session.ts) and the report of its
 * failures. The exit code is the app's (or 124/125/137, see guest-link.ts).
 */
import { Args, Flags, type Interfaces } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { kernelCacheDirFlag } from '../kernel-flags.ts';
import { ACCEL_CHOICES, type AccelRequest } from '../../boot/accel.ts';
import { parseDurationMs } from '../../boot/duration.ts';
import { parseMemory } from '../../boot/memory.ts';
import { parsePublish } from '../../boot/publish.ts';
import { DEFAULT_HYPERVISOR, HYPERVISOR_NAMES, hypervisorByName } from '../../boot/backends/registry.ts';
import { assertBackendSupports } from '../../boot/capabilities.ts';
import { NETWORK_MODES, type NetworkMode } from '../../boot/hypervisor.ts';
import { runBoot, type BootOptions, type BootResult } from '../../boot/session.ts';
import { parseVolume } from '../../boot/volume.ts';
import { registryFlags, registryOptions } from '../../registry/registry-flags.ts';
import { bootTarget } from '../boot-target.ts';
import { BadInputError, HyperbuildError } from '../../errors/errors.ts';
import { writeFileAtomic } from '../../fs/atomic.ts';
import { builtBundleDir, withRunDefaults } from '../boot-run-defaults.ts';
import { projectFileFlag } from '../project-flag.ts';
import { specFlags, specRequest } from '../spec-flags.ts';
import { bundleArgument } from '../../project/bundle-argument.ts';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';

export default class Boot extends BaseCommand {
  static description = 'boot a bundle like `docker run`: the app\'s output, stdin and exit code are yours';

  static usage = 'boot [FLAGS] BUNDLE_DIR|NAME|REFERENCE [-- COMMAND [ARGS...]]';

  static examples = [
    '<%= config.bin %> boot out/busybox',
    '<%= config.bin %> boot web   # bundle `web` of ./hyperbuild.yaml, with its run defaults',
    '<%= config.bin %> boot -e NAME=world out/busybox -- sh -c \'echo hello $NAME\'',
    '<%= config.bin %> boot -p 8080:80 -v ./site:/www:ro out/busybox -- httpd -f -h /www',
    '<%= config.bin %> boot -it out/busybox -- sh',
    '<%= config.bin %> boot registry.example.com/team/api-vm:1.4 -p 8080:80',
    '<%= config.bin %> boot oci:fixtures/out/busybox:hello',
  ];

  // Everything after `--` is the command; run() splits it off and parses the rest strictly.
  static strict = false;

  /** --report FILE, known once the flags are parsed; catch() writes failures there too. */
  private reportPath?: string;

  static args = {
    bundle: Args.string({ description: 'bundle directory, a bundle NAME of hyperbuild.yaml (booted with its run defaults), a bundle in a registry, or an image reference (built first)', required: true }),
  };

  static flags = {
    ...specFlags,
    tty: Flags.boolean({ char: 't', description: 'run the app on a terminal (raw mode here, window size forwarded)' }),
    interactive: Flags.boolean({ char: 'i', description: 'forward stdin to the app' }),
    publish: Flags.string({ char: 'p', description: 'forward [IP:]HOST:GUEST[/tcp|udp]; binds 127.0.0.1 unless IP is given', multiple: true, multipleNonGreedy: true }),
    volume: Flags.string({ char: 'v', description: 'share a host directory: HOST:GUEST[:ro] (virtio-9p)', multiple: true, multipleNonGreedy: true }),
    network: Flags.string({ description: 'user (NAT, 10.0.2.15) or none (loopback only)', options: [...NETWORK_MODES], default: 'user' }),
    memory: Flags.string({ char: 'm', description: 'guest RAM, e.g. 256m or 1g (default: grows with the initramfs)' }),
    cpus: Flags.integer({ description: 'virtual CPUs', default: 1, min: 1, max: 255 }),
    accel: Flags.string({ description: 'accelerator; auto uses KVM only when it really works, else TCG', options: [...ACCEL_CHOICES], default: 'auto' }),
    hypervisor: Flags.string({ description: `the backend that runs the VM (default ${DEFAULT_HYPERVISOR})`, options: [...HYPERVISOR_NAMES], env: 'HYPERBUILD_HYPERVISOR' }),
    connect: Flags.string({ description: 'libvirt connection URI as virsh spells it, e.g. qemu:///session (with --hypervisor libvirt; default: virsh\'s)' }),
    timeout: Flags.string({ description: 'kill the VM when the whole run takes longer (exit 124), e.g. 60s' }),
    'stop-timeout': Flags.string({ description: 'after SIGINT/SIGTERM, seconds until the VM is killed (exit 137)', default: '10' }),
    report: Flags.string({ description: 'write the JSON result (exit code, outcome, timings, machine; or the error) to this file, atomically; stdout stays the app\'s' }),
    verbose: Flags.boolean({ description: 'show the QEMU command line and the guest console live' }),
    template: Flags.boolean({ description: 'start from a VM template of this bundle and machine shape, made on first use (--no-template: boot cold)', default: true, allowNo: true }),
    'kernel-cache-dir': kernelCacheDirFlag,
    file: projectFileFlag,
    ...registryFlags,
  };

  async run(): Promise<BootResult> {
    const dashdash = this.argv.indexOf('--');
    const before = dashdash < 0 ? this.argv : this.argv.slice(0, dashdash);
    const command = dashdash < 0 ? [] : this.argv.slice(dashdash + 1);
    const { args, flags, metadata } = await this.parse(
      // `run` (a subclass) parses its own flags too.
      { args: Boot.args, flags: (this.ctor as typeof Boot).flags as typeof Boot.flags, baseFlags: Boot.baseFlags, enableJsonFlag: true, strict: true },
      before,
    );
    // parse() narrowed this.argv; --json and --debug are looked up there later.
    this.argv = [...before, ...(dashdash < 0 ? [] : ['--', ...command])];
    this.reportPath = flags.report;
    // stdout is the app's, byte for byte: a JSON result after it could not be told apart from it.
    if (this.jsonEnabled() && !this.stdoutIsFree(flags)) {
      throw new BadInputError('--json cannot share stdout with the app\'s output', { hint: 'write the JSON result to a file with --report FILE (run -d takes --json: it prints only the VM\'s ID)' });
    }

    const named = await bundleArgument(args.bundle, { file: flags.file, cacheDir: flags['cache-dir'] });
    const fromFlags = bootRequest(flags, command);
    const request = named.kind === 'project' ? withRunDefaults(fromFlags, named.project, named.bundle, (f) => !metadata.flags[f]?.setFromDefault, { connect: flags.connect }) : fromFlags;
    // Whatever the backend cannot do is refused before anything is pulled or built.
    assertBackendSupports(request.hypervisor, {
      accel: request.accel, network: request.overrides.network,
      publishes: request.publish.length > 0, volumes: request.overrides.volumes.length > 0,
    });
    const target = named.kind === 'project' ? { bundleDir: builtBundleDir(named.bundle, named.dir), temporary: false } : await bootTarget(named.path, {
      cacheDir: flags['cache-dir'],
      kernelCacheDir: flags['kernel-cache-dir'],
      registry: registryOptions(flags),
      hyperbuildVersion: this.config.version,
      progress: this.jsonEnabled() ? 'silent' : 'auto',
    });
    const result = await this.boot({ ...request, bundleDir: target.bundleDir, cacheDir: flags['cache-dir'], template: flags.template }, flags, { ...target, requested: args.bundle });
    if (flags.report) await writeReport(flags.report, result);
    if (flags.verbose) reportHostTime(result);
    if (flags.interactive) process.stdin.destroy();
    if (target.temporary) await rm(dirname(target.bundleDir), { recursive: true, force: true });

    reportFailure(result, flags.verbose);
    if (result.exitCode !== 0) {
      this.exit(result.exitCode);
    }
    return result;
  }

  /** The boot itself, once the target is a bundle directory; `run` records it as a VM, or detaches it. */
  protected boot(o: BootOptions, _flags: BootFlags, _target: BootTarget): Promise<BootResult> {
    return runBoot(o);
  }

  /** Whether stdout is free of the app's output, so --json may use it (`run -d`: only the VM's ID). */
  protected stdoutIsFree(_flags: BootFlags): boolean {
    return false;
  }

  /** A failure before any result (bad flags, no bundle, no QEMU) still reaches --report. */
  protected async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (this.reportPath && err instanceof HyperbuildError) {
      await writeReport(this.reportPath, { error: { message: err.message, hint: err.hint, exitCode: err.exitCode } }).catch(() => undefined);
    }
    return super.catch(err);
  }
}

/** The bundle directory boot runs, whether it is a pulled temporary, and what the user named. */
export interface BootTarget { bundleDir: string; temporary: boolean; requested: string }

export type BootFlags = Interfaces.InferredFlags<typeof Boot.flags>;

/** --report FILE: the result (or error) as JSON, written atomically so a reader never sees half of it. */
async function writeReport(path: string, value: unknown): Promise<void> {
  try {
    await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
  } catch (err) {
    throw new HyperbuildError(`cannot write --report ${path} (${(err as NodeJS.ErrnoException).code ?? err})`, { hint: 'choose a path in a writable directory' });
  }
}

/** The flags as a boot request (everything but the bundle); bad values are refused here (exit 2). */
function bootRequest(flags: BootFlags, command: string[]): Omit<BootOptions, 'bundleDir'> {
  return {
    hypervisor: hypervisorByName(flags.hypervisor ?? DEFAULT_HYPERVISOR, { connect: flags.connect }),
    accel: flags.accel as AccelRequest,
    memoryMiB: flags.memory === undefined ? undefined : parseMemory(flags.memory),
    cpus: flags.cpus,
    publish: (flags.publish ?? []).map(parsePublish),
    overrides: {
      ...specRequest(flags, command, process.env),
      tty: flags.tty,
      network: flags.network as NetworkMode,
      volumes: (flags.volume ?? []).map((v, i) => parseVolume(v, i)),
    },
    interactive: flags.interactive,
    verbose: flags.verbose,
    timeoutMs: flags.timeout === undefined ? undefined : parseDurationMs(flags.timeout, '--timeout'),
    stopTimeoutMs: parseDurationMs(flags['stop-timeout'], '--stop-timeout'),
  };
}

/** --verbose: hyperbuild's own time, the last leg measured as the process exits. */
function reportHostTime(result: BootResult): void {
  const { host } = result;
  if (!host || host.afterExitMs === undefined) return;
  const exitedAt = performance.now() - host.afterExitMs;
  process.once('exit', () => {
    const after = Math.round(performance.now() - exitedAt);
    const phases = Object.entries(host.phases).map(([name, ms]) => `${name} ${ms}`).join(', ');
    process.stderr.write(`hyperbuild: own time ${host.toSpawnMs + after} ms (start to ${result.hypervisor} spawn ${host.toSpawnMs} ms: ${phases}; app exit to process exit ${after} ms)${result.restored ? ', from a VM template' : ''}\n`);
  });
}

/** The app's own failures speak for themselves; ours get one line, the console tail, a hint. */
function reportFailure(result: BootResult, verbose: boolean): void {
  if (result.outcome === 'exited' || !result.message) return;
  process.stderr.write(`hyperbuild: error: ${result.message}\n`);
  if (result.console?.length && !verbose) {
    process.stderr.write(`hyperbuild: last console lines:\n${result.console.map((l) => `  | ${l}`).join('\n')}\n`);
  }
  if (result.outcome === 'vm-died' || result.outcome === 'hyperstart-failed') {
    process.stderr.write('hint: rerun with --verbose to watch the guest console\n');
  }
}
