/**
 * `hyperbuild export BUNDLE --format F -o FILE`: launch files for monitors
 * other than hyperbuild's own (toolchain/export/). Runtime options are baked
 * in; what a format cannot express is refused (exit 2) before anything is written.
 */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { parseMemory } from '../../boot/memory.ts';
import { parsePublish } from '../../boot/publish.ts';
import { exportBundle, type ExportResult } from '../../export/export-bundle.ts';
import { givenSpecFlags, specFlags, specRequest, splitDashDash } from '../spec-flags.ts';
import { EXPORT_TARGETS, parseExportTarget, type ExportNetworkMode } from '../../export/targets.ts';

export default class Export extends BaseCommand {
  static description = 'write a launch file that boots a bundle without hyperbuild: qemu or cloud-hypervisor sh script, libvirt XML, Firecracker JSON, KubeVirt YAML';

  static usage = 'export BUNDLE_DIR --format FORMAT -o FILE [FLAGS] [-- COMMAND [ARGS...]]';

  static examples = [
    '<%= config.bin %> export out/web --format qemu -o run-web.sh',
    '<%= config.bin %> export out/web --format libvirt -o web.xml',
    '<%= config.bin %> export out/web --format firecracker -o web.json -e MODE=prod',
    '<%= config.bin %> export out/web --format cloud-hypervisor -o web.sh --tap tap0',
    '<%= config.bin %> export out/web --format kubevirt --image registry.example.com/web-vm:1 -o web-vm.yaml',
  ];

  static strict = false;

  static args = {
    bundle: Args.string({ description: 'bundle directory', required: true }),
  };

  static flags = {
    format: Flags.string({ description: 'what to write', options: [...EXPORT_TARGETS], required: true }),
    output: Flags.string({ char: 'o', description: 'the launch file; an initrd with the runtime spec is written beside it as STEM.initrd (and a compressed kernel unpacked as STEM.vmlinux)', required: true }),
    image: Flags.string({ description: 'kubevirt: the image `push BUNDLE REF --as kubevirt` pushed' }),
    name: Flags.string({ description: 'VM name for libvirt and KubeVirt (default: the bundle directory\'s name)' }),
    ...specFlags,
    publish: Flags.string({ char: 'p', description: 'qemu: forward [IP:]HOST:GUEST[/tcp|udp]', multiple: true, multipleNonGreedy: true }),
    volume: Flags.string({ char: 'v', description: 'refused: a volume needs hyperbuild at run time', multiple: true, multipleNonGreedy: true }),
    tty: Flags.boolean({ char: 't', description: 'refused: an exported VM has no terminal' }),
    interactive: Flags.boolean({ char: 'i', description: 'refused: an exported VM has no stdin' }),
    memory: Flags.string({ char: 'm', description: 'guest RAM, e.g. 256m or 1g (default: grows with the initramfs, as for boot)' }),
    cpus: Flags.integer({ description: 'virtual CPUs', default: 1, min: 1, max: 255 }),
    network: Flags.string({ description: 'user (qemu, libvirt), none, tap (firecracker, cloud-hypervisor), pod (kubevirt); default per format', options: ['user', 'none', 'tap', 'pod'] }),
    tap: Flags.string({ description: 'firecracker, cloud-hypervisor: host tap device (implies --network tap)' }),
    'guest-address': Flags.string({ description: 'with --tap: the guest\'s ADDRESS/PREFIX (default 172.16.0.2/30)' }),
    gateway: Flags.string({ description: 'with --tap: the guest\'s gateway (default 172.16.0.1)' }),
    dns: Flags.string({ description: 'with --tap: nameserver for the guest', multiple: true, multipleNonGreedy: true }),
    accel: Flags.string({ description: 'libvirt: domain type kvm, or tcg (emulation)', options: ['kvm', 'tcg'], default: 'kvm' }),
  };

  async run(): Promise<ExportResult> {
    const { before, command } = splitDashDash(this.argv);
    const { args, flags } = await this.parse(
      { args: Export.args, flags: Export.flags, baseFlags: Export.baseFlags, enableJsonFlag: true, strict: true },
      before,
    );
    this.argv = [...before, ...(command.length ? ['--', ...command] : [])];
    const target = parseExportTarget(flags.format);
    const network = (flags.network ?? (flags.tap ? 'tap' : undefined)) as ExportNetworkMode | undefined;
    const specNames = givenSpecFlags(flags, command);
    const result = await exportBundle({
      bundleDir: args.bundle,
      target,
      output: flags.output,
      image: flags.image,
      name: flags.name,
      memoryMiB: flags.memory === undefined ? undefined : parseMemory(flags.memory),
      cpus: flags.cpus,
      network,
      net: { publish: (flags.publish ?? []).map(parsePublish), tap: flags.tap, guestAddress: flags['guest-address'], gateway: flags.gateway, dns: flags.dns ?? [] },
      spec: specRequest(flags, command),
      accel: flags.accel as 'kvm' | 'tcg',
      wants: {
        volumes: (flags.volume ?? []).length > 0, interactive: flags.interactive, tty: flags.tty,
        // KubeVirt's guest network, DNS included, is in the image's spec as well.
        specFlags: target === 'kubevirt' && flags.dns ? [...specNames, '--dns'] : specNames,
      },
    });
    if (!this.jsonEnabled()) {
      const what = { launch: result.kind, initrd: 'initrd with the runtime spec', kernel: 'the bundle\'s kernel, unpacked' };
      for (const w of result.written) this.log(`wrote ${w.path} (${what[w.role]})`);
    }
    return result;
  }
}
