import type { ZodType } from 'zod';
import { PowernodeError } from '@powernode/contracts';
import type { NewEvent } from '@powernode/event-core';

/** One event type: its name, current schema version and the zod schema of its `data`. */
export interface EventDefinition<TType extends string = string, TData = unknown> {
  type: TType;
  schema_version: number;
  schema: ZodType<TData>;
}

/**
 * The set of event types a store accepts. Appending an unknown type or data that fails its schema is refused
 * before anything is written, so the log only ever holds events every reader can decode.
 */
export class EventCatalogue {
  private readonly byType = new Map<string, EventDefinition>();

  constructor(definitions: Iterable<EventDefinition<string, any>> = []) {
    for (const d of definitions) this.register(d);
  }

  register(definition: EventDefinition<string, any>): this {
    if (this.byType.has(definition.type)) throw new Error(`event type ${definition.type} registered twice`);
    this.byType.set(definition.type, definition);
    return this;
  }

  has(type: string): boolean {
    return this.byType.has(type);
  }

  types(): string[] {
    return [...this.byType.keys()];
  }

  /** Validates an event about to be appended; returns it with parsed data and its schema version. */
  validate(event: NewEvent): NewEvent & { schema_version: number } {
    const def = this.byType.get(event.type);
    if (!def) {
      throw new PowernodeError('unknown_event_type', `unknown event type "${event.type}": register it in the event catalogue before appending`, {
        details: { type: event.type },
      });
    }
    const parsed = def.schema.safeParse(event.data);
    if (!parsed.success) {
      throw new PowernodeError(
        'invalid_event',
        `event ${event.type} has invalid data: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
        {
          details: { type: event.type, issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
        },
      );
    }
    return { ...event, data: parsed.data, schema_version: event.schema_version ?? def.schema_version };
  }
}
