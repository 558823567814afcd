import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readSync, writeSync, ftruncateSync } from 'node:fs';
import { PowernodeError } from '@powernode/contracts';

/**
 * One event of the log as a CloudEvents 1.0 JSON object. Extension attributes (lower-case letters and digits
 * only, as the spec requires) carry what CloudEvents has no field for: the global position (what a reader
 * resumes from), the stream version and the provenance ids.
 */
export function toCloudEvent(event: Record<string, unknown>, position: number): Record<string, unknown> {
  const withheld = event['data_withheld'] === true;
  return {
    specversion: '1.0',
    id: String(event['id']),
    source: `/powernode/streams/${String(event['stream'])}`,
    type: `io.powernode.${String(event['type'])}.v${String(event['schema_version'] ?? 1)}`,
    subject: String(event['stream']),
    time: String(event['occurred_at']),
    datacontenttype: 'application/json',
    powernodeposition: position,
    powernodeversion: event['version'],
    powernodecorrelationid: event['correlation_id'] ?? null,
    powernodecausationid: event['causation_id'] ?? null,
    powernodeactor: event['actor'] ?? null,
    ...(withheld ? { powernodedatawithheld: true } : {}),
    data: event['data'] ?? null,
  };
}

/** An audit file opened for appending, with the position its last complete line recorded. */
export interface AuditFile {
  /** The global position of the last event in the file, or undefined for an empty file. */
  last_position: number | undefined;
  /** Appends lines and flushes them to disk before returning. */
  append(lines: string[]): void;
  close(): void;
}

/** How far back from the end the last line is looked for; one event line is far smaller. */
const TAIL_BYTES = 4 * 1024 * 1024;

/**
 * Opens (or creates) a CloudEvents JSON-lines audit file. The file is its own checkpoint: the position of its
 * last complete line is where the sink resumes, so a restart neither misses nor repeats an event. A partial last
 * line (the process died while writing it) is cut off first; the event it held is written again.
 */
export function openAuditFile(file: string): AuditFile {
  const fd = openSync(file, existsSync(file) ? 'r+' : 'w+', 0o640);
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const tail = Buffer.alloc(size - start);
    readSync(fd, tail, 0, tail.length, start);
    const complete = tail.lastIndexOf(0x0a) + 1;
    if (complete === 0 && start > 0) {
      throw new PowernodeError(
        'validation_failed',
        `${file} does not end with a line of at most ${TAIL_BYTES} bytes: it is not an audit file this command wrote`,
        {
          details: { file },
        },
      );
    }
    if (start + complete < size) ftruncateSync(fd, start + complete);
    let last: number | undefined;
    const lines = tail.subarray(0, complete).toString('utf8').split('\n');
    for (let i = lines.length - 1; i >= 0 && last === undefined; i--) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      let parsed: { powernodeposition?: unknown };
      try {
        parsed = JSON.parse(line) as { powernodeposition?: unknown };
      } catch (cause) {
        throw new PowernodeError('validation_failed', `${file}: its last line is not JSON: it is not an audit file this command wrote`, {
          cause,
          details: { file },
        });
      }
      if (typeof parsed.powernodeposition !== 'number') {
        throw new PowernodeError('validation_failed', `${file}: its last line has no powernodeposition: it is not an audit file this command wrote`, {
          details: { file },
        });
      }
      last = parsed.powernodeposition;
    }
    let offset = start + complete;
    return {
      last_position: last,
      append(newLines) {
        if (newLines.length === 0) return;
        const bytes = Buffer.from(newLines.map((l) => `${l}\n`).join(''), 'utf8');
        for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written, offset + written);
        offset += bytes.length;
        fsyncSync(fd);
      },
      close: () => closeSync(fd),
    };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}
