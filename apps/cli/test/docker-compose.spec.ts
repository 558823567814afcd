import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { PLATFORM_NATS_MAX_PAYLOAD } from '@powernode/events';
import { baseConfigShape, gatewayConfigShape, hostsRelay, parseConfig } from '@powernode/runtime';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      build?: { context: string; dockerfile: string };
      command?: string[];
      entrypoint?: string[];
      environment?: Record<string, string>;
      healthcheck?: { test: string[] };
      image?: string;
      volumes?: string[];
    }
  >;
};
const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const ownServices = ['gateway', 'catalog', 'ingest', 'provisioner'];
const knownEnv = new Set([...Object.keys(gatewayConfigShape), ...Object.keys(baseConfigShape), 'POWERNODE_SERVICE']);

describe('docker-compose.yml', () => {
  it('declares NATS with JetStream, an event store, an OCI registry and the four services, each with a health check', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['catalog', 'gateway', 'ingest', 'nats', 'postgres', 'provisioner', 'registry']);
    expect(compose.services['nats']!.image).toMatch(/^nats:/);
    expect((compose.services['nats'] as { command: string[] }).command).toContain('-js');
    for (const [name, service] of Object.entries(compose.services))
      expect({ name, healthcheck: Boolean(service.healthcheck?.test?.length) }).toEqual({ name, healthcheck: true });
  });

  it('gives NATS the platform max_payload from docker/nats-server.conf, which .ci/run starts its nats-server with too', () => {
    const conf = readFileSync(path.join(root, 'docker', 'nats-server.conf'), 'utf8');
    expect(Number(/^max_payload:\s*(\d+)\s*$/m.exec(conf)?.[1])).toBe(PLATFORM_NATS_MAX_PAYLOAD);
    const nats = compose.services['nats']!;
    const mount = nats.volumes!.find((v) => v.startsWith('./docker/nats-server.conf:'))!;
    expect(mount).toBeDefined();
    expect(nats.command!.slice(nats.command!.indexOf('-c'), nats.command!.indexOf('-c') + 2)).toEqual(['-c', mount.split(':')[1]]);
    expect(readFileSync(path.join(root, '.ci', 'run'), 'utf8')).toMatch(/nats-server -c docker\/nats-server\.conf /);
  });

  it.each(ownServices)('%s builds from a context and Dockerfile that exist', (name) => {
    const service = compose.services[name]!;
    expect(service.build).toBeDefined();
    const context = path.join(root, service.build!.context);
    expect(existsSync(context)).toBe(true);
    expect(existsSync(path.join(context, service.build!.dockerfile))).toBe(true);
  });

  it.each(ownServices)('%s has an entrypoint the Dockerfile installs and a main module that exists', (name) => {
    const service = compose.services[name]!;
    const entrypoint = service.entrypoint![0]!;
    const copy = dockerfile.split('\n').find((l) => l.startsWith('COPY') && l.trim().endsWith(entrypoint));
    expect(copy).toBeDefined();
    const source = copy!.trim().split(/\s+/)[1]!;
    expect(existsSync(path.join(root, source))).toBe(true);
    expect(readFileSync(path.join(root, source), 'utf8')).toContain('apps/${POWERNODE_SERVICE}/dist/main.js');
    // The image runs what its build stage compiled from this source.
    expect(existsSync(path.join(root, 'apps', service.environment!['POWERNODE_SERVICE']!, 'src', 'main.ts'))).toBe(true);
  });

  it.each(ownServices)('%s sets only environment variables the services read', (name) => {
    const unknown = Object.keys(compose.services[name]!.environment ?? {}).filter((k) => !knownEnv.has(k));
    expect(unknown).toEqual([]);
  });

  it('runs exactly one relay, named explicitly for every service', () => {
    for (const name of ownServices)
      expect({ name, relay_host: compose.services[name]!.environment!['POWERNODE_RELAY_HOST'] }).toEqual({ name, relay_host: 'catalog' });
    const hosts = ownServices.filter((name) => hostsRelay(name, parseConfig(baseConfigShape, compose.services[name]!.environment)));
    expect(hosts).toEqual(['catalog']);
  });

  it('copies only paths that exist into the image', () => {
    const sources = dockerfile
      .split('\n')
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.trim().split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect({ source, exists: existsSync(path.join(root, source)) }).toEqual({ source, exists: true });
  });
});
