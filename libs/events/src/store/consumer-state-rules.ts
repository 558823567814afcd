import { PowernodeError } from '@powernode/contracts';

/** Refuses a checkpoint or projection name that no adapter can store as a key. */
export function checkConsumerName(kind: 'checkpoint' | 'projection', name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new PowernodeError(
      'validation_failed',
      `${kind} name must be a non-empty string of at most 200 characters, got ${JSON.stringify(name)}: pass the consumer's stable name`,
      {
        details: { field: `${kind}.name` },
      },
    );
  }
}

/** Refuses a position that is not a global-log position (a non-negative safe integer). */
export function checkPosition(kind: 'checkpoint' | 'projection', name: string, position: number): void {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new PowernodeError(
      'validation_failed',
      `${kind} ${name}: position must be a non-negative integer, got ${String(position)}: pass the position of the last event applied`,
      {
        details: { field: `${kind}.position`, name },
      },
    );
  }
}

/** Serialises a projection document, refusing values JSON cannot carry so a save never loses data silently. */
export function encodeProjectionState(name: string, state: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(state);
  } catch (cause) {
    throw new PowernodeError(
      'validation_failed',
      `projection ${name}: state is not JSON-serialisable (${(cause as Error).message}): keep read models to plain data`,
      {
        details: { field: 'projection.state', name },
        cause,
      },
    );
  }
  if (text === undefined) {
    throw new PowernodeError(
      'validation_failed',
      `projection ${name}: state is ${typeof state}, which JSON cannot store: save a plain object, array or value`,
      {
        details: { field: 'projection.state', name },
      },
    );
  }
  return text;
}
