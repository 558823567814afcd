import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isAddressInUse, reportedPort } from './loopback-port.js';
import { startNatsServer } from './nats-server.js';
import { startRegistry } from './registry.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pn-loopback-port-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * A stand-in for a server binary that behaves as if another process had taken any port it is told in advance
 * (what happened when a port was picked free and bound a moment later) and runs the real binary otherwise.
 */
async function portTakenWrapper(name: string, realBinary: string, fixedPortGiven: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(
    file,
    ['#!/bin/sh', `if ${fixedPortGiven}; then`, '  echo "listen tcp: bind: address already in use" >&2', '  exit 1', 'fi', `exec ${realBinary} "$@"`, ''].join(
      '\n',
    ),
  );
  await chmod(file, 0o755);
  return file;
}

describe('reportedPort', () => {
  it('returns the port a child bound on port 0 and printed', async () => {
    const child = spawn(
      process.execPath,
      ['-e', "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${s.address().port}`))"],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const port = await reportedPort(child, /listening on 127\.0\.0\.1:(\d+)/, { name: 'server', timeoutMs: 20_000, stream: 'stdout' });
      expect(await answers(port)).toBe(true);
    } finally {
      child.kill();
      await exited;
    }
  });

  it('fails with the output of a child that exits without naming a port', async () => {
    const child = spawn(process.execPath, ['-e', "console.error('bind: address already in use'); process.exit(3)"], { stdio: ['ignore', 'ignore', 'pipe'] });
    await expect(reportedPort(child, /listening on 127\.0\.0\.1:(\d+)/, { name: 'server', timeoutMs: 20_000 })).rejects.toThrow(
      /^server exited \(code 3\) before saying which port it bound:\nbind: address already in use$/,
    );
  });
});

describe('isAddressInUse', () => {
  it.each([
    ['Error: listen EADDRINUSE: address already in use 127.0.0.1:8080', true],
    ['[FTL] Error listening on port: 127.0.0.1:4222, "listen tcp 127.0.0.1:4222: bind: address already in use"', true],
    ['listen tcp 127.0.0.1:5000: bind: permission denied', false],
  ])('%s: %s', (output, inUse) => {
    expect(isAddressInUse(output)).toBe(inUse);
  });
});

describe('servers the tests start bind a port of their own choosing', () => {
  it('nats-server: started with no port picked in advance', async () => {
    const saved = process.env['NATS_SERVER_BIN'];
    // `-p -1` asks the server to choose; any other `-p` names a port picked beforehand.
    process.env['NATS_SERVER_BIN'] = await portTakenWrapper('nats-server', '/usr/sbin/nats-server', 'echo " $* " | grep -Eq -- " -p [0-9]+ "');
    try {
      const nats = await startNatsServer();
      try {
        expect(await answers(nats.port)).toBe(true);
        expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
      } finally {
        await nats.stop();
      }
    } finally {
      if (saved === undefined) delete process.env['NATS_SERVER_BIN'];
      else process.env['NATS_SERVER_BIN'] = saved;
    }
  }, 30_000);

  it('docker-registry: configured with no port picked in advance', async () => {
    const saved = process.env['DOCKER_REGISTRY_BIN'];
    // The registry's config is its second argument (`serve <config>`); port 0 there asks it to choose.
    process.env['DOCKER_REGISTRY_BIN'] = await portTakenWrapper('docker-registry', '/usr/bin/docker-registry', '! grep -q \'"addr": "127.0.0.1:0"\' "$2"');
    try {
      const registry = await startRegistry();
      try {
        const response = await fetch(`${registry.url}/v2/`);
        await response.body?.cancel();
        expect(response.status).toBe(200);
      } finally {
        await registry.stop();
      }
    } finally {
      if (saved === undefined) delete process.env['DOCKER_REGISTRY_BIN'];
      else process.env['DOCKER_REGISTRY_BIN'] = saved;
    }
  }, 60_000);
});
