import type { PropertyDefinition } from './metadefs.js';

/**
 * Skyglass's own seed catalogue: the resource types Glance knows and namespaces for the image
 * properties Nova and Cinder actually read, each with its type, enum and default, written by
 * the team from the Nova and Cinder documentation of those keys. Seeding writes each item only
 * where none exists and then a marker for CATALOGUE_VERSION (docs/table-design.md), so an
 * operator's edits and deletions stay; a new version adds what it adds.
 */
export const CATALOGUE_VERSION = '2026.12';

export const SEED_RESOURCE_TYPES = [
  'OS::Glance::Image',
  'OS::Cinder::Volume',
  'OS::Nova::Flavor',
  'OS::Nova::Server',
  'OS::Nova::Aggregate',
  'OS::Trove::Instance',
] as const;

export interface SeedNamespace {
  namespace: string;
  display_name: string;
  description: string;
  resource_type_associations: Array<{ name: string; prefix?: string; properties_target?: string }>;
  properties: Record<string, PropertyDefinition>;
}

// The helpers are marked free of side effects so that a bundle which never seeds (every metadefs
// function but the first list's and the deploy-time seed's) drops SEED_NAMESPACES altogether.
const image = /* @__NO_SIDE_EFFECTS__ */ (prefix?: string) => ({ name: 'OS::Glance::Image', ...(prefix !== undefined && { prefix }) });
// Cinder copies an image's properties to the volumes made from it (volume_image_metadata) and
// Nova reads them back from there when booting from the volume.
const volumeImage = /* @__NO_SIDE_EFFECTS__ */ (prefix?: string) => ({ name: 'OS::Cinder::Volume', ...(prefix !== undefined && { prefix }), properties_target: 'image' });
const flavor = /* @__NO_SIDE_EFFECTS__ */ (prefix: string) => ({ name: 'OS::Nova::Flavor', prefix });

const str = /* @__NO_SIDE_EFFECTS__ */ (title: string, description: string, extra: Record<string, unknown> = {}): PropertyDefinition => ({ title, description, type: 'string', ...extra });
const bool = /* @__NO_SIDE_EFFECTS__ */ (title: string, description: string, extra: Record<string, unknown> = {}): PropertyDefinition => ({ title, description, type: 'boolean', ...extra });
const int = /* @__NO_SIDE_EFFECTS__ */ (title: string, description: string, extra: Record<string, unknown> = {}): PropertyDefinition => ({ title, description, type: 'integer', ...extra });

export const SEED_NAMESPACES: readonly SeedNamespace[] = [
  {
    namespace: 'OS::Compute::Hardware',
    display_name: 'Virtual hardware',
    description: 'The virtual devices Nova gives an instance booted from the image: buses, models and firmware (hw_* image properties).',
    resource_type_associations: [image(), volumeImage()],
    properties: {
      hw_disk_bus: str('Disk bus', 'The bus the root disk is attached to.', { enum: ['ide', 'scsi', 'virtio', 'uml', 'xen', 'usb', 'sata', 'fdc', 'lxc'] }),
      hw_scsi_model: str('SCSI model', 'The SCSI controller model when hw_disk_bus is scsi.', { enum: ['virtio-scsi', 'lsilogic', 'lsisas1068', 'buslogic', 'ibmvscsi', 'vmpvscsi'] }),
      hw_cdrom_bus: str('CD-ROM bus', 'The bus config drives and rescue disks are attached to.', { enum: ['ide', 'scsi', 'sata', 'usb', 'virtio'] }),
      hw_vif_model: str('Network interface model', 'The virtual NIC model.', { enum: ['virtio', 'e1000', 'e1000e', 'ne2k_pci', 'pcnet', 'rtl8139', 'spapr-vlan', 'netfront', 'VirtualE1000', 'VirtualVmxnet', 'VirtualVmxnet3'] }),
      hw_vif_multiqueue_enabled: bool('Multiqueue networking', 'One virtio-net queue per vCPU, for throughput on instances with several vCPUs.', { default: false }),
      hw_video_model: str('Video model', 'The virtual graphics adapter.', { enum: ['vga', 'cirrus', 'vmvga', 'xen', 'qxl', 'virtio', 'gop', 'bochs', 'none'] }),
      hw_video_ram: int('Video RAM (MB)', 'Video memory; limited by the flavor\'s hw_video:ram_max_mb.', { minimum: 0 }),
      hw_firmware_type: str('Firmware', 'BIOS or UEFI boot.', { enum: ['bios', 'uefi'], default: 'bios' }),
      hw_machine_type: str('Machine type', 'The hypervisor machine type, for example q35 or pc (libvirt).'),
      hw_pointer_model: str('Pointer model', 'A USB tablet gives an absolute pointer in graphical consoles.', { enum: ['usbtablet'] }),
      hw_qemu_guest_agent: bool('QEMU guest agent', 'The image runs qemu-guest-agent: Nova can quiesce file systems for snapshots.', { default: false }),
      hw_rescue_bus: str('Rescue disk bus', 'The bus a stable-device rescue disk is attached to.', { enum: ['virtio', 'ide', 'usb', 'scsi'] }),
      hw_rescue_device: str('Rescue device', 'The device type of a stable-device rescue disk.', { enum: ['cdrom', 'disk', 'floppy'] }),
      hw_boot_menu: bool('Boot menu', 'Show the BIOS boot menu at start.', { default: false }),
    },
  },
  {
    namespace: 'OS::OperatingSystem',
    display_name: 'Operating system',
    description: 'What is installed on the image: Nova picks drivers and guest settings from these (os_* image properties).',
    resource_type_associations: [image(), volumeImage()],
    properties: {
      os_distro: str('Distribution', 'The common name of the distribution, lower case (Nova and libosinfo read it).', { enum: ['arch', 'centos', 'debian', 'fedora', 'freebsd', 'gentoo', 'mandrake', 'mandriva', 'mes', 'msdos', 'netbsd', 'netware', 'openbsd', 'opensolaris', 'opensuse', 'rocky', 'rhel', 'sled', 'ubuntu', 'windows'] }),
      os_version: str('Version', 'The distribution\'s version, for example 12 or 22.04.'),
      os_type: str('Type', 'linux or windows: Nova formats ephemeral disks and sets the clock by it.', { enum: ['linux', 'windows'], default: 'linux' }),
      os_admin_user: str('Administrator user', 'The account whose password nova set-password changes.', { default: 'root' }),
      os_require_quiesce: bool('Require quiesce', 'Refuse snapshots when the guest cannot quiesce its file systems.', { default: false }),
      os_secure_boot: str('Secure boot', 'UEFI Secure Boot for instances of the image.', { enum: ['required', 'disabled', 'optional'], default: 'disabled' }),
    },
  },
  {
    namespace: 'OS::Compute::CPUPinning',
    display_name: 'CPU pinning',
    description: 'Dedicated host CPUs for the instance\'s vCPUs, and how sibling hyperthreads are used.',
    resource_type_associations: [image('hw_'), volumeImage('hw_'), flavor('hw:')],
    properties: {
      cpu_policy: str('CPU policy', 'dedicated pins each vCPU to a host CPU; shared floats them.', { enum: ['shared', 'dedicated', 'mixed'], default: 'shared' }),
      cpu_thread_policy: str('CPU thread policy', 'How a dedicated instance uses hyperthread siblings.', { enum: ['prefer', 'isolate', 'require'], default: 'prefer' }),
    },
  },
  {
    namespace: 'OS::Compute::Watchdog',
    display_name: 'Watchdog',
    description: 'A virtual watchdog device and what the hypervisor does when the guest stops feeding it.',
    resource_type_associations: [image('hw_'), volumeImage('hw_'), flavor('hw:')],
    properties: {
      watchdog_action: str('Watchdog action', 'What happens when the guest hangs; disabled adds no device.', { enum: ['disabled', 'reset', 'poweroff', 'pause', 'none'], default: 'disabled' }),
    },
  },
  {
    namespace: 'OS::Compute::RandomNumberGenerator',
    display_name: 'Random number generator',
    description: 'A virtio-rng device feeding the guest entropy from the host; the flavor must allow it.',
    resource_type_associations: [image('hw_'), volumeImage('hw_')],
    properties: {
      rng_model: str('RNG model', 'The random number generator device model.', { enum: ['virtio'], default: 'virtio' }),
    },
  },
  {
    namespace: 'OS::Compute::Hypervisor',
    display_name: 'Hypervisor selection',
    description: 'Which hypervisor and virtual machine mode the image needs; the scheduler filters hosts by them.',
    resource_type_associations: [image(), volumeImage()],
    properties: {
      hypervisor_type: str('Hypervisor type', 'Only hosts running this hypervisor can boot the image.', { enum: ['baremetal', 'hyperv', 'ironic', 'kvm', 'lxc', 'qemu', 'vmware', 'xen', 'zvm'] }),
      vm_mode: str('VM mode', 'The ABI the image expects.', { enum: ['hvm', 'xen', 'uml', 'exe'] }),
      architecture: str('CPU architecture', 'The CPU architecture the image is built for.', { enum: ['aarch64', 'armv7l', 'i686', 'ppc64', 'ppc64le', 's390x', 'x86_64'] }),
    },
  },
  {
    namespace: 'OS::Compute::Libvirt',
    display_name: 'libvirt driver',
    description: 'Image properties only Nova\'s libvirt driver reads.',
    resource_type_associations: [image(), volumeImage()],
    properties: {
      hw_mem_encryption: bool('Memory encryption', 'AMD SEV memory encryption for instances of the image.', { default: false }),
      img_hide_hypervisor_id: bool('Hide hypervisor id', 'Hide the KVM signature from the guest (some GPU drivers refuse to run under a hypervisor).', { default: false }),
      hw_pmu: bool('Performance monitoring unit', 'Expose a virtual PMU; off saves host overhead for real-time guests.'),
      hw_time_hpet: bool('HPET timer', 'Expose a High Precision Event Timer (old Windows guests need it).', { default: false }),
    },
  },
  {
    namespace: 'OS::Compute::VMware',
    display_name: 'VMware driver',
    description: 'Image properties Nova\'s VMware driver reads.',
    resource_type_associations: [image()],
    properties: {
      vmware_adaptertype: str('Disk adapter', 'The virtual SCSI or IDE controller of the root disk.', { enum: ['lsiLogic', 'lsiLogicsas', 'paraVirtual', 'busLogic', 'ide'], default: 'lsiLogic' }),
      vmware_disktype: str('Disk type', 'How the VMDK is laid out on the datastore.', { enum: ['streamOptimized', 'sparse', 'preallocated'], default: 'preallocated' }),
      vmware_ostype: str('Guest OS type', 'The vSphere guest identifier, for example otherLinux64Guest.', { default: 'otherGuest' }),
    },
  },
  {
    namespace: 'OS::Compute::XenAPI',
    display_name: 'XenAPI driver',
    description: 'Image properties the XenAPI driver read (Nova removed it in 2023; kept for clouds migrating off it).',
    resource_type_associations: [image()],
    properties: {
      auto_disk_config: bool('Automatic disk configuration', 'Grow the root partition to the flavor\'s disk at boot.', { default: false }),
      xenapi_use_agent: bool('Use the guest agent', 'The image runs the XenAPI guest agent.', { default: false }),
    },
  },
  {
    namespace: 'OS::Glance::Signatures',
    display_name: 'Image signature',
    description: 'Properties of a signed image: Nova and Cinder verify the data against them when verify_glance_signatures is on.',
    resource_type_associations: [image()],
    properties: {
      img_signature: str('Signature', 'The base64 signature of the image data.'),
      img_signature_hash_method: str('Hash method', 'The hash the signature covers.', { enum: ['SHA-224', 'SHA-256', 'SHA-384', 'SHA-512'] }),
      img_signature_key_type: str('Key type', 'The signing key\'s algorithm.', { enum: ['RSA-PSS', 'DSA', 'ECC_SECP384R1', 'ECC_SECP521R1'] }),
      img_signature_certificate_uuid: str('Certificate', 'The id of the signing certificate in the key manager (Barbican).'),
    },
  },
];
