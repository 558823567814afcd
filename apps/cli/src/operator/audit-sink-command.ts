import type { Command } from 'commander';
import { isPowernodeError, PowernodeError } from '@powernode/contracts';
import { openAuditFile, toCloudEvent, type AuditFile } from './audit-sink.js';
import { followEventLog, type FollowedEvent } from './event-log-follow.js';
import { platformTarget } from './platform-api.js';

/**
 * `powernode audit-sink`: every event of the log, as a CloudEvents JSON line, to a file (`--out`, which is also
 * where it resumes from) or stdout, live, until interrupted. Reads the gateway's live stream with the token's
 * role (an administrator's token gets every event's data).
 */
export function registerAuditSinkCommand(program: Command): void {
  program
    .command('audit-sink')
    .description('write every event of the log as a CloudEvents JSON line to a file or stdout, live; resumes where the file ends')
    .option('--out <file>', 'append to this file (fsynced per batch); a restart resumes after its last line')
    .option('--from <position>', 'start after this global position (default: the start of the log, or where --out ends)')
    .action(async function (this: Command, o: { out?: string; from?: string }) {
      const globals = this.optsWithGlobals<{ url?: string; token?: string }>();
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let file: AuditFile | undefined;
      try {
        const target = platformTarget(globals);
        if (o.from !== undefined && !/^\d{1,15}$/.test(o.from)) {
          throw new PowernodeError('validation_failed', `--from must be a global log position (a whole number), got "${o.from}"`);
        }
        file = o.out === undefined ? undefined : openAuditFile(o.out);
        const after = file?.last_position ?? (o.from === undefined ? 0 : Number(o.from));
        if (file) process.stderr.write(`audit-sink: appending to ${o.out} after position ${after}\n`);
        const sink = file;
        const write = (batch: FollowedEvent[]) => {
          const lines = batch.map((e) => JSON.stringify(toCloudEvent(e.event, e.position)));
          if (sink) sink.append(lines);
          else process.stdout.write(lines.map((l) => `${l}\n`).join(''));
        };
        const onReconnect = (from: number, cause: string) => process.stderr.write(`audit-sink: ${cause}; reconnecting after position ${from}\n`);
        for await (const event of followEventLog(target, { after, signal: stop.signal, onReconnect })) write([event]);
      } catch (error) {
        if (!isPowernodeError(error)) throw error;
        process.stderr.write(`powernode: ${error.code}: ${error.message}\n`);
        process.exitCode = 1;
      } finally {
        file?.close();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
