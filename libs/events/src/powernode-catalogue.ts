import { authEventDefinitions, catalogEventDefinitions, provisionerEventDefinitions } from '@powernode/contracts';
import { EventCatalogue, type EventDefinition } from './catalogue.js';

/** Every event type the platform appends; each service opens its store with this catalogue. */
export function powernodeEventCatalogue(): EventCatalogue {
  return new EventCatalogue([
    ...authEventDefinitions,
    ...(catalogEventDefinitions as readonly EventDefinition[]),
    ...(provisionerEventDefinitions as readonly EventDefinition[]),
  ]);
}
