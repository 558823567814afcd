import { PowernodeError, type CatalogEventOf, type ModuleBuildReportedData } from '@powernode/contracts';
import { assertNever, type Decider } from '@powernode/events';

/*
 * ModuleBuildReport (stream `module-build-<report_id>`, report_id = moduleBuildReportIdFor(module_id,
 * body_sha256)): what CI said it built, once per signed body within the replay window. The delivery id header
 * is not covered by the signature, so it cannot be what recognises a replay: the same signed body lands on the
 * same stream whatever delivery id it carries, and appends nothing while its last report is younger than
 * WEBHOOK_REPLAY_WINDOW_MS. The delivery id still names the event (per module), so a forge's retry of one
 * delivery is stored once even after the window. Authentication is not decided here: the handler checks the
 * HMAC with the module's secret first and only then asks this decider, so an unsigned request never learns
 * which payload rules exist. Ingest consumes the event and records the outcome on the version stream.
 */

/**
 * How long a signed body is remembered as a replay: 24 hours. Past it, the stream's state keeps only the last
 * report's time and the same body counts as a new build report again (ingest records the same build
 * idempotently, so a late replay changes nothing it has recorded).
 */
export const WEBHOOK_REPLAY_WINDOW_MS = 24 * 60 * 60 * 1000;

export type ModuleBuildReportEvent = CatalogEventOf<'ModuleBuildReported'>;

/** A forge can name tags up to this long; the event schema stores no more. */
export const MAX_TAG_LENGTH = 256;
/** An OCI reference is `<registry>/<repository>:<tag>`; longer than this is not a reference CI produced. */
export const MAX_ARTIFACT_REF_LENGTH = 1000;

export type ModuleBuildReportCommand = {
  type: 'ReportModuleBuild';
  delivery_id: string;
  /** Hex SHA-256 of the signed body (the stream is keyed on it). */
  body_sha256: string;
  now: string;
  /** The module whose webhook secret authenticated the delivery. */
  module: { module_id: string; module_name: string };
  repository_full_name: string;
  /** The tag the payload names (`ref: refs/tags/<tag>` or `release.tag_name`), null when it names none. */
  tag: string | null;
  /** The OCI reference the payload names, null when CI sent none (ingest then derives it). */
  artifact_ref: string | null;
};

/** Only the last report is kept: the replay window is measured from it, and older reports decide nothing. */
export type ModuleBuildReportState = { status: 'unreported' } | { status: 'reported'; report: ModuleBuildReportedData };

export const moduleBuildReportDecider: Decider<ModuleBuildReportCommand, ModuleBuildReportState, ModuleBuildReportEvent> = {
  initialState: () => ({ status: 'unreported' }),

  decide(command, state) {
    switch (command.type) {
      case 'ReportModuleBuild': {
        const tag = requireTag(command.tag);
        const artifact_ref = command.artifact_ref ?? '';
        if (artifact_ref.length > MAX_ARTIFACT_REF_LENGTH) {
          throw payloadRefusal(
            'artifact',
            'artifact_ref_length',
            `webhook artifact is ${artifact_ref.length} characters, more than the ${MAX_ARTIFACT_REF_LENGTH} an OCI reference may have: send "<registry>/<repository>:<tag>", or leave artifact out to pull <OCI_REGISTRY>/<repository>:<tag>`,
          );
        }
        // Replay protection: the same signed body within the window has no second effect, whatever delivery id
        // it carries now. A report recorded without a time has no window end, so it stays a replay.
        if (state.status === 'reported' && withinReplayWindow(state.report, command.now)) return [];
        return [
          {
            type: 'ModuleBuildReported',
            data: {
              module_id: command.module.module_id,
              module_name: command.module.module_name,
              tag,
              artifact_ref,
              delivery_id: command.delivery_id,
              repository_full_name: command.repository_full_name,
              body_sha256: command.body_sha256,
              reported_at: command.now,
            },
          },
        ];
      }
      default:
        return assertNever(command.type);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'ModuleBuildReported':
        return { status: 'reported', report: event.data };
      default:
        return assertNever(event.type);
    }
  },
};

function withinReplayWindow(report: ModuleBuildReportedData, now: string): boolean {
  if (report.reported_at === undefined) return true;
  return Date.parse(now) - Date.parse(report.reported_at) < WEBHOOK_REPLAY_WINDOW_MS;
}

function requireTag(tag: string | null): string {
  if (tag === null || tag === '') {
    throw payloadRefusal(
      'ref',
      'tag_required',
      'webhook payload names no tag: send ref "refs/tags/<tag>" (push) or release.tag_name (release)',
      'must be refs/tags/<tag>',
    );
  }
  if (tag.length > MAX_TAG_LENGTH) {
    throw payloadRefusal(
      'ref',
      'tag_length',
      `webhook tag is ${tag.length} characters, more than ${MAX_TAG_LENGTH}: tag the build with a shorter name (a semantic version such as v1.2.3)`,
    );
  }
  return tag;
}

/** A signed but malformed payload: `validation_failed` naming the payload field, the rule and what to send. */
function payloadRefusal(field: 'ref' | 'artifact', rule: string, message: string, issue: string = message): PowernodeError {
  return new PowernodeError('validation_failed', message, { details: { field, rule, issues: [{ path: field, message: issue }] } });
}
