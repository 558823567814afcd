import type { Decider } from '@powernode/events';
import { instanceDecider, type InstanceCommand, type InstanceEvent, type InstanceState } from './domain/index.js';

/**
 * The instance decider, where a `null` command means "nothing to do on this state": a step another writer (a
 * heartbeat, a redelivered request, the provisioner before a crash) already took. Used with the function form
 * of executeCommand, so whether to act is decided on the same fresh state the append is checked against.
 */
export const conditionalInstanceDecider: Decider<InstanceCommand | null, InstanceState, InstanceEvent> = {
  initialState: instanceDecider.initialState,
  evolve: instanceDecider.evolve,
  decide: (command, state) => (command === null ? [] : instanceDecider.decide(command, state)),
};
