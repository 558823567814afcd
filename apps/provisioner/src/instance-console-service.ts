import { PowernodeError, provisionerStreams, type InstanceConsoleInput } from '@powernode/contracts';
import { stateFromEvents, type EventStore } from '@powernode/events';
import { existingInstance, instanceDecider, type InstanceEvent } from './domain/index.js';
import type { ConsoleChunk, HypervisorDriver } from './drivers/index.js';

/*
 * `powernode instances console`: an instance's serial console as its driver keeps it (the qemu driver appends
 * every boot to `<sandbox>/machine/console.log`). Reading never changes anything, so nothing is recorded.
 */

/** A driver that keeps a console per instance. */
interface ConsoleKeeper {
  console(instanceId: string, options: { from?: number; tailBytes?: number }): Promise<ConsoleChunk>;
}

function keepsConsoles(driver: HypervisorDriver): driver is HypervisorDriver & ConsoleKeeper {
  return typeof (driver as Partial<ConsoleKeeper>).console === 'function';
}

export class InstanceConsoleService {
  constructor(private readonly deps: { store: EventStore; driver: HypervisorDriver }) {}

  async read(input: InstanceConsoleInput): Promise<ConsoleChunk & { instance_id: string }> {
    const history = await this.deps.store.readStream(provisionerStreams.instance(input.id));
    const instance = existingInstance(
      stateFromEvents(
        instanceDecider,
        history.map((e) => ({ type: e.type, data: e.data }) as InstanceEvent),
      ),
      input.id,
    );
    const driver = this.deps.driver;
    if (!keepsConsoles(driver)) {
      throw new PowernodeError('conflict', `the ${driver.kind} driver keeps no console: instances of the qemu driver have one`, {
        details: { driver: driver.kind, instance_id: input.id, rule: 'driver_console' },
      });
    }
    if (instance.status === 'terminated') {
      throw new PowernodeError('instance_terminated', `instance ${input.id} is terminated: its console went with it`, {
        details: { instance_id: input.id, rule: 'instance_terminated' },
      });
    }
    const chunk = await driver.console(input.id, {
      ...(input.from === undefined ? {} : { from: input.from }),
      ...(input.tail_bytes === undefined ? {} : { tailBytes: input.tail_bytes }),
    });
    return { instance_id: input.id, ...chunk };
  }
}
