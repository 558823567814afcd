// Real module artifacts for agent tests: a module directory written from a file map, built with
// buildModuleArtifact and pushed to the test registry, plus the desired-state entry the platform would send.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { AgentDesiredModule } from '@powernode/contracts';
import { buildModuleArtifact, pushModuleArtifact, type BuiltModuleArtifact } from '@powernode/artifact';
import { OciClient } from '@powernode/oci';

const execFileAsync = promisify(execFile);

/** A file of a module's rootfs: text, bytes, or a copy of a host file (kept executable when it is). */
export type ModuleFile = string | Buffer | { copyOf: string; mode?: number };

export interface ModuleSpec {
  name: string;
  version: string;
  files: Record<string, ModuleFile>;
  init?: { start?: string; stop?: string; restart?: string };
}

export interface PublishedModule {
  spec: ModuleSpec;
  built: BuiltModuleArtifact;
  repository: string;
  /** The tree layer's digest (what the cache stores). */
  treeDigest: string;
  /** The desired-state entry for this version, its registry written as `registryHost` (the agent's view). */
  desired(registryHost: string, options: { priority: number; effective_mask?: string[] }): AgentDesiredModule;
}

/** A fresh directory under the OS temp dir, unique to this test. */
export async function freshDir(label: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `powernode-agent-${label}-${randomBytes(3).toString('hex')}-`));
}

/** Writes a module directory (manifest.yaml + rootfs/) for `spec` under `dir`. */
export async function writeModuleDir(dir: string, spec: ModuleSpec): Promise<string> {
  await mkdir(path.join(dir, 'rootfs'), { recursive: true });
  const manifest = { schema_version: 1, name: spec.name, description: `test module ${spec.name}`, ...(spec.init === undefined ? {} : { init: spec.init }) };
  await writeFile(path.join(dir, 'manifest.yaml'), stringify(manifest));
  for (const [modulePath, content] of Object.entries(spec.files)) {
    const target = path.join(dir, 'rootfs', modulePath);
    await mkdir(path.dirname(target), { recursive: true });
    if (typeof content === 'string' || Buffer.isBuffer(content)) {
      await writeFile(target, content);
    } else {
      await writeFile(target, await readFile(content.copyOf));
      await chmod(target, content.mode ?? 0o755);
    }
  }
  return dir;
}

/** Builds `spec` and pushes it to `registryHost/<unique repository>:<version>`. */
export async function publishModule(registryHost: string, workDir: string, spec: ModuleSpec): Promise<PublishedModule> {
  const dir = await writeModuleDir(path.join(workDir, `${spec.name}-${spec.version}-${randomBytes(3).toString('hex')}`), spec);
  const built = await buildModuleArtifact({ dir, version: spec.version, sourceDateEpoch: 1_700_000_000 });
  const repository = `test/${spec.name}-${randomBytes(4).toString('hex')}`;
  const client = new OciClient({ registry: registryHost, insecure: true, retries: 1, retryDelayMs: 10 });
  await pushModuleArtifact(client, `${registryHost}/${repository}:${spec.version}`, built);
  const treeDigest = built.manifest.layers[0]!.digest;
  return {
    spec,
    built,
    repository,
    treeDigest,
    desired: (agentRegistry, options) => ({
      module_name: spec.name,
      version_id: `${spec.name}-${spec.version}`,
      version_string: spec.version,
      oci_ref: `${agentRegistry}/${repository}:${spec.version}`,
      oci_digest: built.manifestDigest,
      composefs_digest: built.composefsDigest,
      priority: options.priority,
      effective_mask: options.effective_mask ?? [],
      init: { start: spec.init?.start ?? null, stop: spec.init?.stop ?? null, restart: spec.init?.restart ?? null },
    }),
  };
}

/** The host files a dynamically linked program needs (itself, its loader and libraries), as ldd lists them. */
export async function programWithLibraries(program: string): Promise<Record<string, ModuleFile>> {
  const files: Record<string, ModuleFile> = { [program]: { copyOf: program, mode: 0o755 } };
  const { stdout } = await execFileAsync('ldd', [program]);
  for (const line of stdout.split('\n')) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (match !== null) files[match[1]!] = { copyOf: match[1]!, mode: 0o755 };
  }
  return files;
}
