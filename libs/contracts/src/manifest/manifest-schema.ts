import semver from 'semver';
import { z } from 'zod';
import { PowernodeError } from '../errors.js';
import { lazySchema } from '../lazy-schema.js';

/*
 * The module manifest, schema version 1: the `manifest.yaml` at the root of a module repository. This schema
 * accepts and refuses exactly what the reference platform's JSON Schema does (every object is closed, the
 * same patterns, enums and bounds), with one deliberate tightening: `dependencies.requires` entries must be
 * `<owner>/<module>@<semver range>` with a range semver can read, where the reference only describes that form.
 * `modules/.schema/module-manifest.schema.json` is generated from this file (see manifest-json-schema.ts).
 */

/** A module name: 1–64 lowercase letters, digits or hyphens, starting with a letter, not ending with a hyphen. */
export const MODULE_NAME_PATTERN = /^[a-z](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
/** A service name inside a module: 1–63 lowercase letters, digits or hyphens, starting with a letter or digit. */
export const SERVICE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** A Linux capability name as written in the manifest (`CAP_NET_BIND_SERVICE`). */
export const CAPABILITY_PATTERN = /^CAP_[A-Z_]+$/;
/** A pinned base image digest. */
export const UBUNTU_DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
/** A snapshot.debian.org / snapshot.ubuntu.com timestamp. */
export const APT_SNAPSHOT_PATTERN = /^[0-9]{8}T[0-9]{6}Z$/;
/**
 * `<owner>/<module>@<range>`: the owner is a forge path (one or more segments of letters, digits, `.`, `_`, `-`),
 * the module a module name, the range any non-blank text (semver decides whether it is a range).
 */
export const REQUIRES_PATTERN = new RegExp('^([A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*)/([a-z](?:[a-z0-9-]{0,62}[a-z0-9])?)@(\\S(?:.*\\S)?)$');

/** The only manifest schema version this platform reads. */
export const MANIFEST_SCHEMA_VERSION = 1;

/** Restart policies a service may declare. */
export const SERVICE_RESTART_POLICIES = ['never', 'on-failure', 'always'] as const;
/** Protocols an exposed port may use. */
export const PORT_PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;
/** Health-check methods: an HTTP method against `endpoint`, or a plain TCP connect. */
export const HEALTH_CHECK_METHODS = ['GET', 'POST', 'PUT', 'TCP'] as const;

/** Manifest keys that belong to the platform's module record, not to manifest.yaml (tutorial step 2). */
export const PLATFORM_ONLY_MANIFEST_KEYS = ['category', 'variety', 'cosign_identity_regexp', 'cosign_issuer_regexp', 'identity', 'version'] as const;

const globList = (description: string) => z.array(z.string()).describe(description);
const capabilityName = z
  .string()
  .regex(CAPABILITY_PATTERN, { error: 'must be a Linux capability name like CAP_NET_BIND_SERVICE (upper case, starting with CAP_)' });
const integer = z.number().int();

/** True when `range` is a non-blank range `semver.validRange` can read (`^1.0`, `~1.2.3`, `>=1 <2`, `1.x`, `*`). */
export function isSemverRange(range: string): boolean {
  return range.trim() !== '' && semver.validRange(range) !== null;
}

/** One entry of `dependencies.requires`, split into its parts. */
export interface RequiresEntry {
  owner: string;
  module: string;
  range: string;
}

/** Explains why `entry` is not `<owner>/<module>@<range>`, or returns undefined when it is. */
export function describeRequiresProblem(entry: string): string | undefined {
  const match = REQUIRES_PATTERN.exec(entry);
  if (match === null) {
    if (!entry.includes('@'))
      return `must be <owner>/<module>@<version range> (e.g. powernode/system-base@^1.0): "${entry}" has no "@<range>"; write "@*" to accept any version`;
    const [repo] = entry.split('@', 1) as [string];
    if (!repo.includes('/')) return `must be <owner>/<module>@<version range> (e.g. powernode/system-base@^1.0): "${repo}" has no owner`;
    const moduleName = repo.slice(repo.lastIndexOf('/') + 1);
    if (!MODULE_NAME_PATTERN.test(moduleName)) {
      return `must be <owner>/<module>@<version range>: "${moduleName}" is not a module name (lowercase letters, digits, hyphens; starts with a letter)`;
    }
    return `must be <owner>/<module>@<version range> (e.g. powernode/system-base@^1.0); "${entry}" is not`;
  }
  const range = match[3] as string;
  if (!isSemverRange(range)) return `"${range}" is not a semver range: use ^1.0, ~1.2, =1.2.3, 1.x, >=1.2 <2 or *`;
  return undefined;
}

/** Parses `powernode/system-base@^1.0` into `{owner:'powernode', module:'system-base', range:'^1.0'}`; throws `manifest_invalid` otherwise. */
export function parseRequires(entry: string): RequiresEntry {
  const problem = describeRequiresProblem(entry);
  const match = REQUIRES_PATTERN.exec(entry);
  if (problem !== undefined || match === null) {
    throw new PowernodeError('manifest_invalid', `dependencies.requires entry ${problem ?? 'is malformed'}`, {
      details: { entry, field: 'dependencies.requires' },
    });
  }
  return { owner: match[1] as string, module: match[2] as string, range: match[3] as string };
}

const requiresEntry = z
  .string()
  .regex(REQUIRES_PATTERN, { error: (issue) => describeRequiresProblem(String(issue.input)) ?? 'must be <owner>/<module>@<version range>' })
  .superRefine((entry, ctx) => {
    if (!REQUIRES_PATTERN.test(entry)) return;
    const problem = describeRequiresProblem(entry);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: entry });
  })
  .describe('<owner>/<module>@<semver range>, e.g. powernode/system-base@^1.0');

export const ExposedPortSchema = lazySchema(() =>
  z.strictObject({
    port: integer.min(1, { error: 'must be a port number from 1 to 65535' }).max(65535, { error: 'must be a port number from 1 to 65535' }),
    protocol: z.enum(PORT_PROTOCOLS),
    name: z.string().optional(),
  }),
);

export const ServiceHealthSchema = lazySchema(() =>
  z.strictObject({
    endpoint: z.string().optional(),
    method: z.enum(HEALTH_CHECK_METHODS).optional(),
    interval_seconds: integer.min(1).optional(),
    timeout_seconds: integer.min(1).optional(),
    initial_delay_seconds: integer.min(0).optional(),
  }),
);

export const ServiceSchema = lazySchema(() =>
  z.strictObject({
    name: z.string().regex(SERVICE_NAME_PATTERN, { error: 'must be 1–63 lowercase letters, digits or hyphens, starting with a letter or digit' }),
    start_command: z.string().optional().describe('argv of the service, split like a POSIX shell would but never run by a shell'),
    stop_command: z.string().optional(),
    restart_policy: z.enum(SERVICE_RESTART_POLICIES).optional(),
    user: z.string().optional(),
    working_directory: z.string().optional(),
    env: z.record(z.string(), z.unknown()).optional().describe('Environment of the service; scalar values are passed as strings'),
    exposed_ports: z.array(ExposedPortSchema).optional(),
    capabilities: z.array(capabilityName).optional(),
    health: ServiceHealthSchema.optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  }),
);

export const ModuleSecuritySchema = lazySchema(() =>
  z.strictObject({
    capabilities: z.array(capabilityName).optional().describe('Linux capabilities the module processes keep; everything else is dropped'),
    selinux_profile: z.string().nullable().optional(),
    apparmor_profile: z.string().nullable().optional(),
    seccomp_profile: z.string().nullable().optional(),
    egress_allow: z.array(z.string()).optional().describe('Egress allow-list (default deny), "host:port" with the port optional'),
    privileged: z.boolean().optional().describe('Raw hardware access; attaching needs explicit operator approval'),
    user_namespace: z.boolean().optional(),
  }),
);

const DISTRIBUTION_PATTERN = /^[a-z0-9][a-z0-9.+-]*\/[a-z0-9][a-z0-9.+-]*$/;

export const ModuleBuildSchema = lazySchema(() =>
  z.strictObject({
    ubuntu_digest: z
      .string()
      .regex(UBUNTU_DIGEST_PATTERN, { error: 'must be sha256:<64 lowercase hex digits>, or null to keep the Containerfile default' })
      .nullable()
      .optional()
      .describe('Pinned Ubuntu base image digest; null inherits the Containerfile default'),
    apt_snapshot: z
      .string()
      .regex(APT_SNAPSHOT_PATTERN, {
        error: 'must be a snapshot timestamp YYYYMMDDTHHMMSSZ (e.g. 20260415T000000Z), or null to keep the Containerfile default',
      })
      .nullable()
      .optional()
      .describe('Pinned APT snapshot timestamp; null inherits the Containerfile default'),
    firmware_repo: z.string().optional(),
    firmware_ref: z.string().optional(),
    k3s_version: z.string().optional(),
    distribution: z
      .string()
      .regex(DISTRIBUTION_PATTERN, { error: 'must be <vendor>/<suite>, e.g. debian/bookworm' })
      .optional()
      .describe('Distribution package_spec installs from, <vendor>/<suite>; default debian/bookworm'),
  }),
);

export const ModuleDependenciesSchema = lazySchema(() =>
  z.strictObject({
    requires: z.array(requiresEntry).optional().describe('Modules this one needs, <owner>/<module>@<semver range>'),
    provides: z.array(z.string()).optional().describe('Abstract capability tags other modules can target, e.g. http.server'),
  }),
);

export const ModuleInitSchema = lazySchema(() =>
  z.strictObject({
    start: z.string().optional().describe('argv run by the agent to start the module (never through a shell); "" for none'),
    stop: z.string().optional(),
    restart: z.string().optional(),
  }),
);

/** manifest.yaml, schema version 1. Unknown keys are refused at every level. */
export const ModuleManifestSchema = lazySchema(() =>
  z.strictObject({
    schema_version: z.literal(MANIFEST_SCHEMA_VERSION, { error: 'must be 1, the only manifest schema version this platform reads' }),
    name: z
      .string()
      .regex(MODULE_NAME_PATTERN, { error: 'must be 1–64 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen' })
      .describe('Stable module identifier; must equal the name the module is registered under'),
    display_name: z.string().max(200, { error: 'must be at most 200 characters' }).optional(),
    description: z.string().optional(),
    license: z.string().optional(),
    mask: globList("rsync-style globs excluded from this module's own artifact (build cruft)").optional(),
    file_spec: globList('rsync-style globs of the paths this module owns and ships').optional(),
    protected_spec: globList("rsync-style globs no neighbouring module may ship (folded into every neighbour's effective_mask)").optional(),
    dependency_spec: globList('rsync-style globs dependant config/instance children inherit as their file_spec').optional(),
    package_spec: z.array(z.string()).optional().describe('Debian packages installed into the build root'),
    dependencies: ModuleDependenciesSchema.optional(),
    init: ModuleInitSchema.optional(),
    services: z.array(ServiceSchema).optional(),
    reboot_required: z.boolean().optional().describe('true: attaching or detaching this module needs a reboot of the instance'),
    security: ModuleSecuritySchema.optional(),
    skills: z.array(z.unknown()).optional().describe('Skills this module ships; entries are owned by the skill subsystem'),
    build: ModuleBuildSchema.optional(),
  }),
);

export type ModuleManifest = z.infer<typeof ModuleManifestSchema>;
export type ModuleService = z.infer<typeof ServiceSchema>;
export type ModuleSecurity = z.infer<typeof ModuleSecuritySchema>;
export type ModuleBuildHints = z.infer<typeof ModuleBuildSchema>;
export type ModuleInit = z.infer<typeof ModuleInitSchema>;

/** The four glob-list fields of a manifest, in the order the build applies them. */
export const MANIFEST_GLOB_FIELDS = ['mask', 'file_spec', 'protected_spec', 'dependency_spec'] as const;
export type ManifestGlobField = (typeof MANIFEST_GLOB_FIELDS)[number];

/** The `init` commands a manifest may declare. */
export const MANIFEST_INIT_COMMANDS = ['start', 'stop', 'restart'] as const;
