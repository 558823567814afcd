import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Writes a small valid module repository (manifest.yaml and a few rootfs/ files) into `dir`. */
export async function writeModule(dir: string, name: string, options: { extraFile?: string } = {}): Promise<string> {
  await mkdir(path.join(dir, 'rootfs', 'etc', name), { recursive: true });
  await mkdir(path.join(dir, 'rootfs', 'usr', 'lib', name), { recursive: true });
  await writeFile(
    path.join(dir, 'manifest.yaml'),
    [
      'schema_version: 1',
      `name: ${name}`,
      `display_name: "${name} for tests"`,
      'license: "Apache-2.0"',
      'file_spec:',
      `  - "/etc/${name}/**"`,
      `  - "/usr/lib/${name}/**"`,
      'mask:',
      `  - "/etc/${name}/*.bak"`,
      'init:',
      `  start: "/usr/lib/${name}/run --serve"`,
      '',
    ].join('\n'),
  );
  await writeFile(path.join(dir, 'rootfs', 'etc', name, `${name}.conf`), `listen 127.0.0.1:6379\n${options.extraFile ?? ''}`);
  const run = path.join(dir, 'rootfs', 'usr', 'lib', name, 'run');
  await writeFile(run, '#!/bin/sh\nexec sleep infinity\n');
  await chmod(run, 0o755);
  return dir;
}
