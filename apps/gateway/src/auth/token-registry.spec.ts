import { createHash, randomUUID } from 'node:crypto';
import { foldEvents, MemoryEventStore, powernodeEventCatalogue, ProjectionRunner, type EventEnvelope } from '@powernode/events';
import { findActiveToken, tokenRegistryProjection } from './token-registry.js';

const T0 = '2026-05-01T10:00:00.000Z';
const T1 = '2026-05-01T11:00:00.000Z';
const digest = (token: string): string => createHash('sha256').update(token).digest('hex');

let position = 0;
function envelope(type: string, data: unknown): EventEnvelope {
  position += 1;
  return {
    id: randomUUID(),
    stream: 'token-test',
    type,
    version: position,
    position,
    occurred_at: T0,
    correlation_id: 'c',
    causation_id: null,
    actor: 'admin',
    schema_version: 1,
    data,
  };
}
const created = (token_id: string, token: string) =>
  envelope('TokenCreated', { token_id, name: `token ${token_id}`, role: 'operator', token_sha256: digest(token), created_by: 'admin', created_at: T0 });
const revoked = (token_id: string) => envelope('TokenRevoked', { token_id, revoked_by: 'admin', revoked_at: T1 });

describe('token registry projection', () => {
  const log = [
    created('t1', 'secret-1'),
    created('t2', 'secret-2'),
    revoked('t1'),
    revoked('t-unknown'),
    envelope('ModuleRegistered', { module_id: 'm' }),
    created('t3', 'secret-3'),
  ];

  it('finds active tokens by digest and no revoked or unknown one', () => {
    const state = foldEvents(tokenRegistryProjection, log);
    expect(findActiveToken(state, digest('secret-2'))).toMatchObject({ id: 't2', role: 'operator', revoked_at: null });
    expect(findActiveToken(state, digest('secret-1'))).toBeUndefined();
    expect(findActiveToken(state, digest('never-issued'))).toBeUndefined();
    expect(findActiveToken(state, 'constructor')).toBeUndefined();
    expect(state.by_id['t1']).toMatchObject({ revoked_at: T1 });
  });

  it('gives deep-equal states when the same events are folded twice from fresh initial states', () => {
    const eventsBefore = structuredClone(log);
    const first = foldEvents(tokenRegistryProjection, log);
    const second = foldEvents(tokenRegistryProjection, log);
    expect(second).not.toBe(first);
    expect(second).toEqual(first);
    expect(foldEvents(tokenRegistryProjection, log.slice(3), JSON.parse(JSON.stringify(foldEvents(tokenRegistryProjection, log.slice(0, 3)))))).toEqual(first);
    expect(log).toEqual(eventsBefore);
    expect(tokenRegistryProjection.initialState()).toEqual({ by_id: {}, by_hash: {} });
  });

  it('does not change a token record a lookup returned when the token is revoked later', () => {
    const state = foldEvents(tokenRegistryProjection, log.slice(0, 2));
    const record = findActiveToken(state, digest('secret-2'))!;
    const snapshot = structuredClone(record);
    foldEvents(tokenRegistryProjection, [revoked('t2')], state);
    expect(record).toEqual(snapshot);
    expect(findActiveToken(state, digest('secret-2'))).toBeUndefined();
  });

  it('keeps a runner current over a real event store, and a restart from the saved document agrees with the live state', async () => {
    const store = new MemoryEventStore(powernodeEventCatalogue());
    const runner = new ProjectionRunner(tokenRegistryProjection, store, store.projections);
    const append = (type: string, data: unknown) =>
      store.append(`token-${(data as { token_id: string }).token_id}`, [{ type, data, actor: 'admin' }], { expected: 'any' });
    await append('TokenCreated', created('t1', 'secret-1').data);
    await runner.start();
    const held = findActiveToken(runner.current, digest('secret-1'))!;
    const result = await append('TokenRevoked', revoked('t1').data);
    await runner.waitFor(result.position);
    expect(held.revoked_at).toBeNull();
    expect(findActiveToken(runner.current, digest('secret-1'))).toBeUndefined();
    await runner.stop();
    const restarted = new ProjectionRunner(tokenRegistryProjection, store, store.projections);
    await restarted.start();
    expect(restarted.current).toEqual(runner.current);
    await restarted.stop();
    await store.close();
  });
});
