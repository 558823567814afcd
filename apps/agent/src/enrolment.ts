import type { Logger } from 'pino';
import { PowernodeError, isPowernodeError } from '@powernode/contracts';
import type { AgentConfig } from './agent-config.js';
import { retryDelayMs } from './composition-state.js';
import type { GatewayClient } from './gateway-client.js';
import { readStoredCredential, writeStoredCredential } from './instance-credential.js';

/** Gateway codes that mean the enrolment token itself was refused: trying it again cannot succeed. */
const ENROLMENT_REFUSED_CODES: ReadonlySet<string> = new Set(['unauthenticated', 'forbidden']);

/** The instance credential and the heartbeat interval to use with it. */
export interface InstanceCredential {
  credential: string;
  heartbeatIntervalMs: number;
}

/**
 * The persisted instance credential in `dataDir`, or a new one from enrolling with the one-time token (then
 * persisted there). Retries what can succeed later (gateway down) with backoff until `stopping()`; returns
 * null only when stopped first. A refused token, with no credential persisted, ends it with the way out.
 */
export async function obtainInstanceCredential(
  deps: { config: AgentConfig; logger: Logger; gateway: GatewayClient; dataDir: string },
  stopping: () => boolean,
  sleep: (ms: number) => Promise<void>,
): Promise<InstanceCredential | null> {
  const { config, logger, gateway, dataDir } = deps;
  const { credential: stored, problem } = await readStoredCredential(dataDir, config.instanceId);
  if (problem !== undefined) logger.warn({ problem }, 'ignoring the persisted credential');
  if (stored !== null) {
    logger.info({ instance_id: config.instanceId, enrolled_at: stored.enrolled_at }, 'using the persisted instance credential');
    return { credential: stored.credential, heartbeatIntervalMs: config.heartbeatIntervalMs ?? stored.heartbeat_interval_ms };
  }
  const token = config.enrolmentToken;
  if (token === undefined) {
    const message = `POWERNODE_ENROLMENT_TOKEN: required to enrol, as no credential is persisted in ${dataDir}`;
    throw new PowernodeError('config_invalid', message, { details: { problems: [message] } });
  }
  for (let attempt = 1; !stopping(); attempt++) {
    try {
      const enrolled = await gateway.enrol({ instance_id: config.instanceId, enrolment_token: token });
      await writeStoredCredential(dataDir, {
        instance_id: config.instanceId,
        credential: enrolled.credential,
        heartbeat_interval_ms: enrolled.heartbeat_interval_ms,
        enrolled_at: new Date().toISOString(),
      });
      const heartbeatIntervalMs = config.heartbeatIntervalMs ?? enrolled.heartbeat_interval_ms;
      logger.info({ instance_id: config.instanceId, heartbeat_interval_ms: heartbeatIntervalMs }, 'enrolled');
      return { credential: enrolled.credential, heartbeatIntervalMs };
    } catch (error) {
      if (isPowernodeError(error) && ENROLMENT_REFUSED_CODES.has(error.code)) {
        // Exiting is all that is left, and the driver will start the agent again to the same end: say so plainly.
        throw new PowernodeError(
          'unauthenticated',
          `the platform refused the enrolment token (${error.message}) and no instance credential is persisted in ${dataDir}; ` +
            `an enrolment token works once, so this agent cannot authenticate and every restart will fail the same way — ` +
            `restore ${dataDir}/credential.json, or delete the instance and create a new one (it gets a new token)`,
          { cause: error, retryable: false, details: { instance_id: config.instanceId, data_dir: dataDir, gateway_code: error.code } },
        );
      }
      if (!isPowernodeError(error) || !error.retryable) throw error;
      const delay = retryDelayMs(attempt, config.retryInitialMs, config.retryMaxMs);
      logger.warn({ err: (error as Error).message, retry_in_ms: delay }, 'enrolment failed; retrying');
      await sleep(delay);
    }
  }
  return null;
}
