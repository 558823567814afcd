import { catalogEventDefinitions } from '@powernode/contracts';
import { given } from '@powernode/testing';
import {
  MAX_ARTIFACT_REF_LENGTH,
  MAX_TAG_LENGTH,
  moduleBuildReportDecider,
  WEBHOOK_REPLAY_WINDOW_MS,
  type ModuleBuildReportCommand,
  type ModuleBuildReportEvent,
} from './module-build-report.decider.js';
import { REDIS_ID } from './catalog-fixtures.test-support.js';

const REPO = 'acme/my-redis-module';
const ARTIFACT = `127.0.0.1:5000/${REPO}:v0.1.0`;
const BODY = 'b'.repeat(64);
const T0 = '2026-05-01T10:00:00.000Z';
const later = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();

const report = (overrides: Partial<ModuleBuildReportCommand> = {}): ModuleBuildReportCommand => ({
  type: 'ReportModuleBuild',
  delivery_id: 'delivery-1',
  body_sha256: BODY,
  now: T0,
  module: { module_id: REDIS_ID, module_name: 'my-redis' },
  repository_full_name: REPO,
  tag: 'v0.1.0',
  artifact_ref: ARTIFACT,
  ...overrides,
});

const reported = (overrides: Partial<ModuleBuildReportEvent['data']> = {}): ModuleBuildReportEvent => ({
  type: 'ModuleBuildReported',
  data: {
    module_id: REDIS_ID,
    module_name: 'my-redis',
    tag: 'v0.1.0',
    artifact_ref: ARTIFACT,
    delivery_id: 'delivery-1',
    repository_full_name: REPO,
    body_sha256: BODY,
    reported_at: T0,
    ...overrides,
  },
});

describe('module build report decider', () => {
  it('reports the build an authenticated delivery names', () => {
    given(moduleBuildReportDecider, []).when(report()).then([reported()]);
  });

  it('reports a delivery without an artifact with an empty reference, for ingest to derive', () => {
    given(moduleBuildReportDecider, [])
      .when(report({ artifact_ref: null }))
      .then([reported({ artifact_ref: '' })]);
  });

  it('appends nothing for a replay of a reported body within the window, whatever delivery id it carries', () => {
    given(moduleBuildReportDecider, [reported()]).when(report()).then([]);
    given(moduleBuildReportDecider, [reported()])
      .when(report({ delivery_id: 'delivery-2', now: later(WEBHOOK_REPLAY_WINDOW_MS - 1) }))
      .then([]);
  });

  it('reports the body again once its last report is older than the window, and measures from the newest report', () => {
    const past = later(WEBHOOK_REPLAY_WINDOW_MS);
    given(moduleBuildReportDecider, [reported()])
      .when(report({ delivery_id: 'delivery-2', now: past }))
      .then([reported({ delivery_id: 'delivery-2', reported_at: past })]);
    given(moduleBuildReportDecider, [reported(), reported({ delivery_id: 'delivery-2', reported_at: past })])
      .when(report({ delivery_id: 'delivery-3', now: later(WEBHOOK_REPLAY_WINDOW_MS + 1) }))
      .then([]);
  });

  it('treats a report recorded without a time as a replay forever (it has no window end)', () => {
    const { reported_at: _at, ...untimed } = reported().data;
    given(moduleBuildReportDecider, [{ type: 'ModuleBuildReported' as const, data: untimed }])
      .when(report({ now: later(10 * WEBHOOK_REPLAY_WINDOW_MS) }))
      .then([]);
  });

  it('refuses a payload that names no tag, saying which field to send (tag_required)', () => {
    for (const tag of [null, '']) {
      given(moduleBuildReportDecider, [])
        .when(report({ tag }))
        .thenRefuses({
          code: 'validation_failed',
          rule: 'tag_required',
          message: /send ref "refs\/tags\/<tag>" \(push\) or release\.tag_name \(release\)/,
          details: { field: 'ref', issues: [{ path: 'ref', message: 'must be refs/tags/<tag>' }] },
        });
    }
  });

  it('refuses a tag longer than a version can be (tag_length)', () => {
    given(moduleBuildReportDecider, [])
      .when(report({ tag: `v${'1'.repeat(MAX_TAG_LENGTH)}` }))
      .thenRefuses({ code: 'validation_failed', rule: 'tag_length', message: /shorter name/, details: { field: 'ref' } });
    given(moduleBuildReportDecider, [])
      .when(report({ tag: 'v'.padEnd(MAX_TAG_LENGTH, '1') }))
      .then([reported({ tag: 'v'.padEnd(MAX_TAG_LENGTH, '1') })]);
  });

  it('refuses an artifact reference longer than an OCI reference can be (artifact_ref_length)', () => {
    given(moduleBuildReportDecider, [])
      .when(report({ artifact_ref: 'r'.repeat(MAX_ARTIFACT_REF_LENGTH + 1) }))
      .thenRefuses({ code: 'validation_failed', rule: 'artifact_ref_length', message: /leave artifact out/, details: { field: 'artifact' } });
  });

  it('checks the payload of a redelivery as it checked the first delivery', () => {
    given(moduleBuildReportDecider, [reported()])
      .when(report({ tag: null }))
      .thenRefuses({ code: 'validation_failed', rule: 'tag_required' });
  });

  it('decides events the event catalogue accepts', () => {
    const schema = catalogEventDefinitions.find((d) => d.type === 'ModuleBuildReported')!.schema;
    for (const event of [
      ...given(moduleBuildReportDecider, []).when(report()).events(),
      ...given(moduleBuildReportDecider, [])
        .when(report({ artifact_ref: null }))
        .events(),
    ]) {
      expect(schema.safeParse(event.data).success).toBe(true);
    }
  });

  it('remembers the report it folded', () => {
    expect(given(moduleBuildReportDecider, [reported()]).state).toEqual({ status: 'reported', report: reported().data });
    expect(moduleBuildReportDecider.initialState()).toEqual({ status: 'unreported' });
  });
});
