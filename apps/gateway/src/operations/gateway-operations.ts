import { z } from 'zod';
import { PowernodeError, tokenRoleSchema } from '@powernode/contracts';
import { uuidv7, type EventStore, type ProjectionRunner } from '@powernode/events';
import { hashToken, mintToken } from '../auth/token-hash.js';
import { ROLES, roleAllows, type Permission } from '../auth/roles.js';
import { assertTokenNameFree, type TokenRegistryState } from '../auth/token-registry.js';
import { defineOperation, type Operation } from './operation.js';

const createTokenInput = z.object({ role: tokenRoleSchema, name: z.string().min(1).max(100) });
const tokenIdInput = z.object({ id: z.string().min(1).max(200) });
const listEventsInput = z.object({
  stream: z.string().min(1).max(300).optional(),
  from: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const PERMISSIONS: readonly Permission[] = ['read', 'change', 'approve', 'admin'];

/** Operations the gateway answers itself: bearer tokens and the audit read of the event log. */
export function gatewayOperations(store: EventStore, tokens: ProjectionRunner<TokenRegistryState>): Operation[] {
  return [
    defineOperation({
      tool: 'system_whoami',
      title: 'Who am I',
      description: "The caller's token name, role and the permissions the role carries (read, change, approve, admin): what a client may offer its user.",
      permission: 'read',
      input: z.object({}),
      rest: { method: 'GET', path: '/whoami' },
      run: async (_input, ctx) => ({
        id: ctx.principal.id,
        name: ctx.principal.name,
        role: ctx.principal.role,
        permissions: PERMISSIONS.filter((p) => roleAllows(ctx.principal.role, p)),
        roles: ROLES,
      }),
    }),
    defineOperation({
      tool: 'system_create_token',
      title: 'Create a bearer token',
      description:
        'Issues a bearer token with role viewer, operator, approver or admin and a name no active token has. The token is shown once; only its SHA-256 digest is stored.',
      permission: 'admin',
      input: createTokenInput,
      rest: { method: 'POST', path: '/tokens', status: 201 },
      run: async (input, ctx) => {
        // Names are checked against every token issued so far, through any gateway process.
        await tokens.waitFor(await store.headPosition());
        assertTokenNameFree(tokens.current, input.name);
        const id = uuidv7();
        const token = mintToken(input.role);
        const result = await store.append(
          `token-${id}`,
          [
            {
              type: 'TokenCreated',
              data: {
                token_id: id,
                name: input.name,
                role: input.role,
                token_sha256: hashToken(token),
                created_by: ctx.principal.name,
                created_at: new Date().toISOString(),
              },
              actor: ctx.principal.name,
              correlation_id: ctx.correlation_id,
            },
          ],
          { expected: 'no_stream' },
        );
        await tokens.waitFor(result.position);
        return { token, id, role: input.role, name: input.name };
      },
    }),
    defineOperation({
      tool: 'system_list_tokens',
      title: 'List bearer tokens',
      description: 'Issued tokens (id, name, role, created_at, revoked_at); never the token values.',
      permission: 'admin',
      input: z.object({}),
      rest: { method: 'GET', path: '/tokens' },
      run: async () => ({
        tokens: Object.values(tokens.current.by_id).map(({ token_sha256: _digest, ...rest }) => rest),
      }),
    }),
    defineOperation({
      tool: 'system_revoke_token',
      title: 'Revoke a bearer token',
      description: 'Revokes a token; idempotent.',
      permission: 'admin',
      input: tokenIdInput,
      rest: { method: 'DELETE', path: '/tokens/{id}' },
      run: async (input, ctx) => {
        const record = tokens.current.by_id[input.id];
        if (!record) throw new PowernodeError('not_found', `token ${input.id} does not exist: list tokens with GET /api/v1/system/tokens`);
        if (record.revoked_at === null) {
          const result = await store.append(
            `token-${input.id}`,
            [
              {
                type: 'TokenRevoked',
                data: { token_id: input.id, revoked_by: ctx.principal.name, revoked_at: new Date().toISOString() },
                actor: ctx.principal.name,
                correlation_id: ctx.correlation_id,
              },
            ],
            { expected: 'any' },
          );
          await tokens.waitFor(result.position);
        }
        const { token_sha256: _digest, ...view } = tokens.current.by_id[input.id]!;
        return { token: view };
      },
    }),
    defineOperation({
      tool: 'system_list_events',
      title: 'Read the event log',
      description:
        'Audit read of the event log: the global log after position `from`, or one stream from version `from`. Each event carries its actor and correlation id; `head` is the position of the last event in the log.',
      permission: 'admin',
      input: listEventsInput,
      rest: { method: 'GET', path: '/events' },
      run: async (input) => {
        const events = input.stream
          ? await store.readStream(input.stream, { from_version: input.from + 1, limit: input.limit })
          : await store.readAll({ after_position: input.from, limit: input.limit });
        const last = events[events.length - 1];
        const next_from = events.length < input.limit || !last ? null : input.stream ? last.version : last.position;
        // The log's head, so a reader can start near the end (`from: head - n`) instead of paging from 0.
        return { events, next_from, head: await store.headPosition() };
      },
    }),
  ];
}
