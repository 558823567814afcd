import type { ArtifactProgressDetails, ArtifactProgressListener, ArtifactProgressStep } from '@powernode/artifact';

/** Progress output of the supply-chain commands: one line per step on stderr, so stdout stays the result. */
export interface ProgressReporter {
  /** A step of the command (`[2/5] build`). */
  step(text: string): void;
  /** A detail line under the current step. */
  note(text: string): void;
  /** Receives the artifact library's progress events. */
  artifact: ArtifactProgressListener;
}

// A large tree reports archiving progress at each quarter of its bytes; small ones only report the totals.
const LARGE_TREE_BYTES = 8 * 1024 * 1024;

/** `1234567` → `1.2 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The progress line for an artifact event, or undefined when the event is not worth a line. */
export function artifactProgressLine<S extends ArtifactProgressStep>(
  step: S,
  detail: ArtifactProgressDetails[S],
  state: { nextQuarter: number },
): string | undefined {
  switch (step) {
    case 'tree_read': {
      const d = detail as ArtifactProgressDetails['tree_read'];
      return `read module tree: ${d.entries} entries, ${d.files} files, ${formatBytes(d.bytes)}`;
    }
    case 'tree_entry_archived': {
      const d = detail as ArtifactProgressDetails['tree_entry_archived'];
      if (d.bytes_total < LARGE_TREE_BYTES) return undefined;
      const quarter = Math.floor((d.bytes_done * 4) / d.bytes_total);
      if (quarter < state.nextQuarter) return undefined;
      state.nextQuarter = quarter + 1;
      return `archived ${formatBytes(d.bytes_done)} of ${formatBytes(d.bytes_total)} (${d.entries_done}/${d.entries_total} entries)`;
    }
    case 'blob_built': {
      const d = detail as ArtifactProgressDetails['blob_built'];
      return `built ${d.role} ${d.digest} (${formatBytes(d.size)})`;
    }
    case 'manifest_built': {
      const d = detail as ArtifactProgressDetails['manifest_built'];
      return `built manifest ${d.digest}`;
    }
    case 'blob_pushed': {
      const d = detail as ArtifactProgressDetails['blob_pushed'];
      const how = d.via === 'already_present' ? 'already in the registry' : d.via === 'mounted' ? 'mounted' : `uploaded ${formatBytes(d.size)}`;
      return `pushed ${d.role} ${d.digest} (${how})`;
    }
    case 'manifest_pushed': {
      const d = detail as ArtifactProgressDetails['manifest_pushed'];
      return `pushed manifest ${d.reference} (${d.digest})`;
    }
    case 'manifest_pulled':
    case 'blob_pulled':
    case 'tree_verified':
      return undefined;
    default: {
      const unreachable: never = step;
      return unreachable;
    }
  }
}

/** A reporter writing to `stream` (stderr), or a silent one with `quiet`. */
export function progressReporter(options: { quiet?: boolean; stream?: NodeJS.WritableStream } = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const write = (line: string): void => {
    if (options.quiet !== true) stream.write(`${line}\n`);
  };
  const state = { nextQuarter: 1 };
  return {
    step: (text) => write(text),
    note: (text) => write(`  ${text}`),
    artifact: (step, detail) => {
      if (step === 'tree_read') state.nextQuarter = 1;
      const line = artifactProgressLine(step, detail, state);
      if (line !== undefined) write(`  ${line}`);
    },
  };
}
