import type { AgentServiceStatus } from '@powernode/contracts';

/*
 * The state of a module's systemd units inside the machine, as the heartbeat reports them: read with one
 * `systemctl show` per heartbeat for every unit of every composed module.
 */

/** systemd's ActiveState folded to the four states the platform shows. */
export function serviceStateOf(activeState: string): AgentServiceStatus['state'] {
  switch (activeState) {
    case 'active':
    case 'reloading':
      return 'active';
    case 'activating':
    case 'maintenance':
      return 'activating';
    case 'failed':
      return 'failed';
    default:
      return 'inactive';
  }
}

/**
 * Parses `systemctl show --timestamp=unix -p Id,ActiveState,StateChangeTimestamp <units…>`: one block of
 * `Key=value` lines per unit, blocks separated by a blank line, in the order asked.
 */
export function parseSystemctlShow(output: string): Array<{ unit: string; state: AgentServiceStatus['state']; since: string | null }> {
  return output
    .split(/\n\s*\n/)
    .map((block) =>
      Object.fromEntries(
        block
          .split('\n')
          .filter((line) => line.includes('='))
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      ),
    )
    .filter((fields) => typeof fields['Id'] === 'string' && fields['Id'] !== '')
    .map((fields) => {
      const stamp = /^@(\d+)$/.exec(fields['StateChangeTimestamp'] ?? '');
      return {
        unit: fields['Id']!,
        state: serviceStateOf(fields['ActiveState'] ?? ''),
        since: stamp === null ? null : new Date(Number(stamp[1]) * 1000).toISOString(),
      };
    });
}
