import { pino, type Logger } from 'pino';

/** One JSON line per event on stdout, tagged with the service and the instance; secrets are redacted. */
export function createAgentLogger(instanceId: string, level: string): Logger {
  return pino({
    level,
    base: { service: 'agent', instance_id: instanceId, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['credential', '*.credential', 'enrolment_token', '*.enrolment_token', 'authorization', '*.authorization'], censor: '[redacted]' },
  });
}
