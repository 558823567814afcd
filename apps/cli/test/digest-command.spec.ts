// `powernode digest` against the real `fsverity digest` (fsverity-utils) as the oracle, byte for byte.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runCli, temporaryDirectory, type CliResult } from './cli-process.test-support.js';

let dir: string;
let remove: () => Promise<void>;

/** Runs the real fsverity CLI in `cwd`. */
async function fsverity(args: readonly string[], cwd: string): Promise<CliResult> {
  const child = spawn('fsverity', ['digest', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  return { code, stdout, stderr };
}

const FILES: Record<string, Buffer> = {
  empty: Buffer.alloc(0),
  hello: Buffer.from('hello\n'),
  'one-block': Buffer.alloc(4096, 'A'),
  'one-block-and-a-byte': Buffer.alloc(4097, 'A'),
  'zeros-1MiB': Buffer.alloc(1024 * 1024),
  // Two levels of Merkle tree: more than 128 blocks of 4 KiB.
  'two-levels': Buffer.from(Array.from({ length: 600 * 1024 }, (_, i) => (i * 7919) % 251)),
  'name with spaces.txt': Buffer.from('spaces\n'),
};

beforeAll(async () => {
  ({ dir, remove } = await temporaryDirectory('digest'));
  await mkdir(path.join(dir, 'sub'));
  for (const [name, content] of Object.entries(FILES)) await writeFile(path.join(dir, name), content);
  await writeFile(path.join(dir, 'sub', 'nested.bin'), Buffer.from('nested'));
});

afterAll(async () => {
  await remove();
});

describe('powernode digest', () => {
  test('prints exactly what fsverity digest prints for files of every size class', async () => {
    const args = [...Object.keys(FILES), 'sub/nested.bin', path.join(dir, 'hello')];
    const [ours, theirs] = await Promise.all([runCli(['digest', ...args], { cwd: dir }), fsverity(args, dir)]);
    expect(theirs.code).toBe(0);
    expect(ours.code).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stdout.split('\n')).toHaveLength(args.length + 1);
    expect(ours.stdout).toContain('sha256:9c76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa hello\n');
  });

  test('--compact prints the bare hex, as fsverity digest --compact', async () => {
    const [ours, theirs] = await Promise.all([runCli(['digest', '--compact', 'hello', 'empty'], { cwd: dir }), fsverity(['--compact', 'hello', 'empty'], dir)]);
    expect(ours.code).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
  });

  test('a missing file: the lines before it, then exit 1 with a message naming the file, like fsverity', async () => {
    const args = ['hello', 'no-such-file', 'empty'];
    const [ours, theirs] = await Promise.all([runCli(['digest', ...args], { cwd: dir }), fsverity(args, dir)]);
    expect(theirs.code).toBe(1);
    expect(ours.code).toBe(1);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stdout).toBe('sha256:9c76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa hello\n');
    expect(ours.stderr).toMatch(/^powernode: cannot compute the fs-verity digest of no-such-file: no such file/m);
  });

  test('a directory is refused with exit 1, as fsverity refuses it', async () => {
    const [ours, theirs] = await Promise.all([runCli(['digest', 'sub'], { cwd: dir }), fsverity(['sub'], dir)]);
    expect(theirs.code).toBe(1);
    expect(ours.code).toBe(1);
    expect(ours.stdout).toBe('');
    expect(ours.stderr).toMatch(/sub/);
  });

  test('--json lists {file, digest} and, on a failure, the error after the digests made', async () => {
    const ok = await runCli(['digest', '--json', 'hello', 'empty'], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({
      digests: [
        { file: 'hello', digest: 'sha256:9c76eecc7b76fcb46199cb27b90cf59a660e10575bb0412128905129d5b1c2aa' },
        { file: 'empty', digest: 'sha256:3d248ca542a24fc62d1c43b916eae5016878e2533c88238480b26128a1f1af95' },
      ],
    });
    const failed = await runCli(['digest', '--json', 'hello', 'missing'], { cwd: dir });
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ digests: [{ file: 'hello' }], error: { code: 'not_found' } });
  });

  test('no file at all is a usage error (exit 2)', async () => {
    const result = await runCli(['digest'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/missing required argument/);
  });
});
