import { publicRpc, rpc } from '@powernode/contracts';
import { z } from 'zod';
import { rpcHandlerTable } from '../../src/bus/rpc-handler-table.js';

const declarations = {
  double: rpc('pntest.double', z.object({ n: z.number().int() })),
  rename: publicRpc('pntest.rename', z.object({ name: z.string().min(1) }), {
    tool: 'system_rename',
    title: 'Rename',
    description: 'Renames.',
    permission: 'change',
    rest: { method: 'POST', path: '/rename' },
  }),
};
const actor = { id: 'u1', name: 'ops', role: 'operator' } as const;
const transport = { getSubject: () => 'pntest.double' };

describe('rpcHandlerTable', () => {
  const table = rpcHandlerTable(declarations, {
    double: ({ n }) => ({ doubled: n * 2 }),
    rename: ({ input, actor: who }) => ({ name: input.name, by: who.name }),
  });

  it('binds each declared pattern to the handler of the same name', async () => {
    expect([...table.keys()]).toEqual(['pntest.double', 'pntest.rename']);
    await expect(table.get('pntest.double')!({ n: 21 }, transport)).resolves.toEqual({ ok: true, data: { doubled: 42 } });
    await expect(table.get('pntest.rename')!({ actor, input: { name: 'x' } })).resolves.toEqual({ ok: true, data: { name: 'x', by: 'ops' } });
  });

  it('refuses a payload its declaration does not accept, naming the field, before the handler runs', async () => {
    await expect(table.get('pntest.double')!({ n: 'x' }, transport)).resolves.toMatchObject({
      ok: false,
      error: { code: 'validation_failed', details: { issues: [{ path: 'n' }] } },
    });
    await expect(table.get('pntest.rename')!({ input: { name: 'x' } })).resolves.toMatchObject({
      ok: false,
      error: { code: 'validation_failed', details: { issues: [{ path: 'actor' }] } },
    });
  });
});
