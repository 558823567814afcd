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
    expect(Object.keys(compose.services).sort()).toEqual(['catalog', 'gateway', 'ingest', 'nats', 'nats-credentials', 'postgres', 'provisioner', 'registry']);
    expect(compose.services['nats']!.image).toMatch(/^nats:/);
    expect((compose.services['nats'] as { command: string[] }).command).toContain('-js');
    for (const [name, service] of Object.entries(compose.services)) {
      if (name === 'nats-credentials') continue; // runs once and exits
      expect({ name, healthcheck: Boolean(service.healthcheck?.test?.length) }).toEqual({ name, healthcheck: true });
    }
  });

  it('starts NATS on the configuration `powernode nats-credentials` writes: the platform users, each service connecting as itself', () => {
    const writer = compose.services['nats-credentials']!;
    const dir = writer.command![writer.command!.indexOf('--dir') + 1]!;
    expect(writer.command![0]).toBe('nats-credentials');
    // Only the relay host may publish events: the writer must know the relay host the services are told.
    expect(writer.environment!['POWERNODE_RELAY_HOST']).toBe(compose.services['catalog']!.environment!['POWERNODE_RELAY_HOST']);
    expect(writer.volumes).toEqual([`nats-credentials:${dir}`]);
    const nats = compose.services['nats']!;
    expect(nats.command!.slice(nats.command!.indexOf('-c'), nats.command!.indexOf('-c') + 2)).toEqual(['-c', `${dir}/nats-server.conf`]);
    expect(nats.volumes).toContain(`nats-credentials:${dir}:ro`);
    expect((nats as { depends_on?: Record<string, { condition: string }> }).depends_on?.['nats-credentials']).toEqual({
      condition: 'service_completed_successfully',
    });
    for (const name of ownServices) {
      const service = compose.services[name]!;
      expect({ name, user: service.environment!['NATS_USER'], file: service.environment!['NATS_PASSWORD_FILE'] }).toEqual({
        name,
        user: name,
        file: `${dir}/${name}.password`,
      });
      expect(service.volumes).toContain(`nats-credentials:${dir}:ro`);
      // `powernode health` sends a ping, which only the operator user may.
      if (name !== 'gateway')
        expect(service.healthcheck!.test).toEqual(expect.arrayContaining(['NATS_USER=operator', `NATS_PASSWORD_FILE=${dir}/operator.password`]));
    }
  });

  it('gives the nats-server of .ci/run the platform max_payload from docker/nats-server.conf', () => {
    const conf = readFileSync(path.join(root, 'docker', 'nats-server.conf'), 'utf8');
    expect(Number(/^max_payload:\s*(\d+)\s*$/m.exec(conf)?.[1])).toBe(PLATFORM_NATS_MAX_PAYLOAD);
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

describe('docker-compose.production.yml', () => {
  type Service = { command?: string[]; environment?: Record<string, string>; deploy?: { replicas?: number }; volumes?: string[]; image?: string };
  const production = parse(readFileSync(path.join(root, 'docker-compose.production.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
  // What `docker compose -f docker-compose.yml -f docker-compose.production.yml` runs: mappings merge, lists replace.
  const merged = (name: string): Service => {
    const base = compose.services[name] ?? {};
    const over = production.services[name] ?? {};
    return { ...base, ...over, environment: { ...(base.environment ?? {}), ...(over.environment ?? {}) } };
  };
  const natsServers = ['nats', 'nats-2', 'nats-3'];
  const flag = (command: string[], name: string) => command[command.indexOf(name) + 1];

  it('clusters three NATS servers, each routed to the two others, on the platform configuration', () => {
    const names = natsServers.map((s) => flag(merged(s).command!, '-n'));
    expect(new Set(names).size).toBe(3);
    for (const server of natsServers) {
      const command = merged(server).command!;
      expect(merged(server).image).toMatch(/^nats:/);
      expect(command).toEqual(expect.arrayContaining(['-js', '-c', '/etc/powernode/nats/nats-server.conf']));
      expect(flag(command, '--cluster_name')).toBe('powernode');
      const routes = flag(command, '--routes')!
        .split(',')
        .map((r) => new URL(r).hostname)
        .sort();
      expect(routes).toEqual(natsServers.filter((s) => s !== server).sort());
    }
  });

  it('points every service at all three servers, with three copies of each stream', () => {
    for (const name of [...ownServices, 'nats-credentials']) {
      const env = merged(name).environment!;
      expect({ name, servers: env['NATS_URL']!.split(',').map((u) => new URL(u).hostname) }).toEqual({ name, servers: natsServers });
      expect({ name, replicas: env['POWERNODE_STREAM_REPLICAS'] }).toEqual({ name, replicas: '3' });
      expect(parseConfig(baseConfigShape, env).POWERNODE_STREAM_REPLICAS).toBe(3);
    }
  });

  it('runs two catalogs and two ingests, whose relay lease and durable consumer keep them from doing the same work twice', () => {
    expect(merged('catalog').deploy?.replicas).toBe(2);
    expect(merged('ingest').deploy?.replicas).toBe(2);
    expect(Number(merged('gateway').environment!['POWERNODE_GATEWAY_WORKERS']!.replace(/^\$\{[^:]+:-(\d+)\}$/, '$1'))).toBe(2);
  });

  it('runs two provisioner hosts on the one store, each with its own name and data volume', () => {
    const hosts = ['provisioner', 'provisioner-2'].map((name) => merged(name));
    expect(hosts.map((h) => h.environment!['POWERNODE_PROVISIONER_HOST'])).toEqual(['hv-1', 'hv-2']);
    expect(hosts.map((h) => h.environment!['POWERNODE_SERVICE'])).toEqual(['provisioner', 'provisioner']);
    const dataVolume = (h: Service) => h.volumes!.find((v) => v.endsWith(':/var/lib/powernode'))!.split(':')[0];
    expect(new Set(hosts.map(dataVolume)).size).toBe(2);
    const base = compose.services['provisioner']!.environment!;
    for (const key of ['EVENT_STORE_URL', 'OCI_REGISTRY', 'POWERNODE_DATA_DIR', 'POWERNODE_RELAY_HOST', 'NATS_USER']) {
      expect({ key, value: hosts[1]!.environment![key] }).toEqual({ key, value: base[key] });
    }
  });
});
