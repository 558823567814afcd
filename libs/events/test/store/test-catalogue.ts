import { z } from 'zod';
import { EventCatalogue } from '../../src/catalogue.js';

/** Event types the store contract suite appends: a counter with optional text, and a second type for variety. */
export const testEventSchema = z.object({ n: z.number().int(), text: z.string().optional() });
export const testNoteSchema = z.object({ note: z.string().min(1) });

/** A fresh catalogue holding `TestEvent` (schema v2) and `TestNote` (schema v1). */
export function testCatalogue(): EventCatalogue {
  return new EventCatalogue([
    { type: 'TestEvent', schema_version: 2, schema: testEventSchema },
    { type: 'TestNote', schema_version: 1, schema: testNoteSchema },
  ]);
}
