// Token names are unique among active tokens: approvals and the audit trail show names, and two principals
// must not be told apart by id alone.
import { isPowernodeError } from '@powernode/contracts';
import { MemoryEventStore, powernodeEventCatalogue, ProjectionRunner } from '@powernode/events';
import { tokenRegistryProjection, type TokenRegistryState } from '../auth/token-registry.js';
import { gatewayOperations } from './gateway-operations.js';
import type { Operation, OperationContext } from './operation.js';

const admin: OperationContext = { principal: { id: 'bootstrap-admin', name: 'bootstrap-admin', role: 'admin' }, correlation_id: 'c-1' };

let store: MemoryEventStore;
let tokens: ProjectionRunner<TokenRegistryState>;
let operations: Operation[];
beforeEach(async () => {
  store = new MemoryEventStore(powernodeEventCatalogue());
  tokens = new ProjectionRunner(tokenRegistryProjection, store, store.projections);
  await tokens.start();
  operations = gatewayOperations(store, tokens);
});
afterEach(async () => {
  await tokens.stop();
  await store.close();
});

const call = (tool: string, input: unknown) => {
  const operation = operations.find((o) => o.tool === tool)!;
  return operation.run(operation.input.parse(input), admin);
};
async function refusal(run: Promise<unknown>): Promise<{ code: string; details: unknown } | undefined> {
  try {
    await run;
  } catch (error) {
    if (isPowernodeError(error)) return { code: error.code, details: error.details };
    throw error;
  }
  return undefined;
}

describe('system_create_token', () => {
  test.each([['alice'], ['Alice'], [' alice ']])('refuses %j while an active token is named alice, and issues nothing', async (name) => {
    const first = await call('system_create_token', { role: 'operator', name: 'alice' });
    expect(await refusal(call('system_create_token', { role: 'approver', name }))).toEqual({
      code: 'already_exists',
      details: { field: 'name', token_id: first.id, rule: 'token_name_unique' },
    });
    expect(Object.keys(tokens.current.by_id)).toEqual([first.id]);
  });

  test('refuses the bootstrap admin name', async () => {
    expect(await refusal(call('system_create_token', { role: 'approver', name: 'bootstrap-admin' }))).toMatchObject({
      code: 'already_exists',
      details: { rule: 'token_name_unique' },
    });
  });

  test('gives a revoked token name to a new token', async () => {
    const first = await call('system_create_token', { role: 'operator', name: 'ci' });
    await call('system_revoke_token', { id: first.id });
    const second = await call('system_create_token', { role: 'operator', name: 'ci' });
    expect(second).toMatchObject({ name: 'ci' });
    expect(second.id).not.toBe(first.id);
  });

  test('sees a token another gateway process issued a moment ago', async () => {
    await store.append(
      'token-other',
      [
        {
          type: 'TokenCreated',
          data: {
            token_id: 'other',
            name: 'bob',
            role: 'approver',
            token_sha256: 'a'.repeat(64),
            created_by: 'bootstrap-admin',
            created_at: new Date().toISOString(),
          },
          actor: 'bootstrap-admin',
        },
      ],
      { expected: 'no_stream' },
    );
    expect(await refusal(call('system_create_token', { role: 'approver', name: 'bob' }))).toMatchObject({ code: 'already_exists' });
  });
});
