import { hostnameSchema, NODE_CHANNELS, nodeChannelSchema, PowernodeError, type NodeChannel } from '@powernode/contracts';

/** The hostname as given, or `validation_failed` naming the field and the rule it breaks. */
export function parseHostname(value: string): string {
  const parsed = hostnameSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new PowernodeError(
    'validation_failed',
    `hostname "${value}" ${parsed.error.issues[0]?.message ?? 'is not a valid hostname'}; for example "redis-test-1"`,
    {
      details: { field: 'hostname', value, rule: 'hostname_format' },
    },
  );
}

/** A node channel (`staging`, `blessed`, `live`), or `validation_failed` listing the accepted values. */
export function parseChannel(value: string): NodeChannel {
  const parsed = nodeChannelSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new PowernodeError(
    'validation_failed',
    `channel "${value}" is not a node channel: use one of ${NODE_CHANNELS.join(', ')} (the lowest promotion state the node accepts; "live" for the fleet)`,
    { details: { field: 'channel', value, allowed: [...NODE_CHANNELS], rule: 'channel_value' } },
  );
}
