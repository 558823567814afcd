import type { JetStreamManager } from '@nats-io/jetstream';
import { BUS_HEADERS, leaseHolder, type BusNames } from '@powernode/events';

/** Who does what only one may do on the bus, and how far behind each reader is: for /readyz and /metrics. */
export interface BusLeadership {
  relay: {
    /** The replica holding the relay lease (`<service>-<host>-<pid>`), or null when none does. */
    holder: string | null;
    /** The log position of the last event on the event stream, or null before the first. */
    published_position: number | null;
    /** Events in the store not yet on the stream. */
    lag_events: number | null;
  };
  /** Each durable consumer of the event stream: messages it has not been handed yet, and handed but unacknowledged. */
  consumers: { name: string; pending: number; ack_pending: number; redelivered: number }[];
}

export async function readBusLeadership(jsm: JetStreamManager, bus: BusNames, headPosition: () => Promise<number>): Promise<BusLeadership> {
  const [holder, info, head] = await Promise.all([
    leaseHolder(jsm, bus.lease_stream, `${bus.lease_subject_prefix}.relay`),
    jsm.streams.info(bus.event_stream),
    headPosition(),
  ]);
  let published: number | null = null;
  if (info.state.messages > 0) {
    const last = await jsm.streams.getMessage(bus.event_stream, { seq: info.state.last_seq });
    const header = last?.header?.get(BUS_HEADERS.event_position);
    published = header ? Number(header) : null;
  }
  const consumers: BusLeadership['consumers'] = [];
  for await (const c of jsm.consumers.list(bus.event_stream)) {
    consumers.push({ name: c.name, pending: c.num_pending, ack_pending: c.num_ack_pending, redelivered: c.num_redelivered });
  }
  consumers.sort((a, b) => a.name.localeCompare(b.name));
  return { relay: { holder, published_position: published, lag_events: published === null ? head : Math.max(0, head - published) }, consumers };
}

/** The leadership as Prometheus gauges. */
export function busLeadershipMetrics(b: BusLeadership): string[] {
  const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const lines = [
    '# HELP powernode_relay_holder 1 for the replica holding the relay lease; holder="" and 0 when none does',
    '# TYPE powernode_relay_holder gauge',
    `powernode_relay_holder{holder="${label(b.relay.holder ?? '')}"} ${b.relay.holder === null ? 0 : 1}`,
    '# TYPE powernode_relay_lag_events gauge',
    `powernode_relay_lag_events ${b.relay.lag_events ?? 0}`,
    '# TYPE powernode_consumer_pending gauge',
    ...b.consumers.map((c) => `powernode_consumer_pending{consumer="${label(c.name)}"} ${c.pending}`),
    '# TYPE powernode_consumer_ack_pending gauge',
    ...b.consumers.map((c) => `powernode_consumer_ack_pending{consumer="${label(c.name)}"} ${c.ack_pending}`),
  ];
  return lines;
}
