import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** One JSON line per log event, tagged with the service name; children carry correlation ids. */
export function createLogger(service: string, level: string = process.env['LOG_LEVEL'] ?? 'info'): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['webhook_secret', '*.webhook_secret', 'token', '*.token', 'authorization', '*.authorization', 'secret', '*.secret'],
      censor: '[redacted]',
    },
  });
}

/** A child logger for one command or message, so every line it writes can be joined on correlation_id. */
export function withCorrelation(logger: Logger, correlation_id: string, causation_id?: string | null): Logger {
  return logger.child(causation_id ? { correlation_id, causation_id } : { correlation_id });
}
