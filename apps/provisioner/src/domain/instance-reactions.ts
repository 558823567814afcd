import type { ProvisionerEvent } from '@powernode/contracts';

/*
 * Which instance events ask a provisioner to act on its hypervisor driver. Commands only append events; the
 * provisioner that runs the instance hears them from its durable JetStream consumer and reconciles. The
 * reconciler's own steps (provisioning → starting, → error) and the agent's reports need no reaction: acting on
 * them would only repeat a step the reconciler has just taken.
 */

/** The instance whose driver state must follow `event`, or null when the event asks for nothing. */
export function instanceNeedingReconcile(event: ProvisionerEvent): string | null {
  switch (event.type) {
    case 'InstanceProvisionRequested':
    case 'InstanceTerminated':
      return event.data.instance_id;
    case 'InstanceStatusChanged': {
      const { from, to } = event.data;
      // An operator's stop or start; `provisioning → starting` is the reconciler's own step.
      if (to === 'stopping') return event.data.instance_id;
      if (to === 'starting' && from !== 'provisioning') return event.data.instance_id;
      return null;
    }
    default:
      return null;
  }
}

/**
 * True when the provisioner on `host` runs the instance: the host it was provisioned on, or any host for an
 * instance recorded before hosts were named.
 */
export function runsOnHost(instance: { provisioner_host: string | null }, host: string): boolean {
  return instance.provisioner_host === null || instance.provisioner_host === host;
}
