import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { PowernodeError } from '@powernode/contracts';
import { eventEnvelopeSchema, type EventEnvelope } from '@powernode/event-core';

/** Header names the bus sets on every event message, so tools can route and trace without decoding JSON. */
export const BUS_HEADERS = {
  msg_id: 'Nats-Msg-Id',
  correlation_id: 'Powernode-Correlation-Id',
  causation_id: 'Powernode-Causation-Id',
  event_type: 'Powernode-Event-Type',
  event_stream: 'Powernode-Event-Stream',
  event_position: 'Powernode-Event-Position',
  dead_letter_reason: 'Powernode-Dead-Letter-Reason',
  dead_letter_code: 'Powernode-Dead-Letter-Code',
  dead_letter_message: 'Powernode-Dead-Letter-Message',
  original_subject: 'Powernode-Original-Subject',
  original_stream_sequence: 'Powernode-Original-Stream-Sequence',
  delivery_count: 'Powernode-Delivery-Count',
  consumer: 'Powernode-Consumer',
  /** On a request whose answer is streamed: the subject the handler publishes the parts to. */
  stream_subject: 'Powernode-Stream-Subject',
  /** On a part of a streamed answer: its position (0, 1, 2, …), so a reader sees a lost part as a gap. */
  stream_seq: 'Powernode-Stream-Seq',
  /** On a part of a streamed answer: what it holds (a kind the two sides agree on, or `end`). */
  stream_part: 'Powernode-Stream-Part',
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Headers of an event message: the event id is the JetStream dedupe id, the ids let logs follow a command. */
export function eventHeaders(event: EventEnvelope): MsgHdrs {
  const h = natsHeaders();
  h.set(BUS_HEADERS.msg_id, event.id);
  h.set(BUS_HEADERS.correlation_id, event.correlation_id);
  if (event.causation_id !== null) h.set(BUS_HEADERS.causation_id, event.causation_id);
  h.set(BUS_HEADERS.event_type, event.type);
  h.set(BUS_HEADERS.event_stream, event.stream);
  h.set(BUS_HEADERS.event_position, String(event.position));
  return h;
}

/** The message body of an event: the whole envelope as JSON, so a consumer needs nothing but the message. */
export function encodeEvent(event: EventEnvelope): Uint8Array {
  return encoder.encode(JSON.stringify(event));
}

/** Decodes and checks an event message body; throws a terminal `invalid_event` when it is not an envelope. */
export function decodeEvent(data: Uint8Array): EventEnvelope {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (cause) {
    throw new PowernodeError('invalid_event', 'bus message body is not JSON: it was not published by the event relay; inspect it on the dead-letter subject', {
      cause,
    });
  }
  const parsed = eventEnvelopeSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PowernodeError(
      'invalid_event',
      `bus message body is not an event envelope (${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}); inspect it on the dead-letter subject`,
      { details: { issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) } },
    );
  }
  return parsed.data as EventEnvelope;
}
