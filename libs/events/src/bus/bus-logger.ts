import { pino } from 'pino';

/** The logging surface the bus needs; a pino logger satisfies it. */
export interface BusLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** The logger used when a caller passes none: pino at `LOG_LEVEL` (default info), one JSON line per event. */
export function defaultBusLogger(component: string): BusLogger {
  return pino({ name: component, level: process.env.LOG_LEVEL ?? 'info' });
}
