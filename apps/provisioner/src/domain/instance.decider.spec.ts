import { INSTANCE_STATUSES, type InstanceStatus } from '@powernode/contracts';
import { given } from '@powernode/testing';
import { instanceDecider, type InstanceCommand } from './instance.decider.js';
import { INSTANCE_TRANSITIONS } from './instance-status-machine.js';
import {
  composefsOf,
  digestOf,
  ENROLMENT_TOKEN_SHA256,
  heartbeatReceived,
  historyTo,
  INSTANCE_ID,
  LATER,
  NEXT_DAY,
  NODE_ID,
  provisionRequested,
  report,
  sha256,
  statusChanged,
  T0,
  T1,
  T2,
  T3,
  terminated,
} from './provisioner-fixtures.test-support.js';

const requestProvision = (overrides: Partial<Extract<InstanceCommand, { type: 'RequestProvision' }>> = {}): InstanceCommand => ({
  type: 'RequestProvision',
  instance_id: INSTANCE_ID,
  node_id: NODE_ID,
  node: { hostname: 'redis-test-1', node_template_id: provisionRequested().data.node_template_id },
  driver: 'local',
  enrolment_token_sha256: ENROLMENT_TOKEN_SHA256,
  enrolment_expires_at: LATER,
  requested_by: 'operator',
  now: T0,
  ...overrides,
});
const changeStatus = (to: string, reason = 'test', now = T0): InstanceCommand => ({ type: 'ChangeStatus', instance_id: INSTANCE_ID, to, reason, now });
const heartbeat = (now: string, overrides: Parameters<typeof report>[0] = {}, keepalive_ms?: number): InstanceCommand => ({
  type: 'RecordHeartbeat',
  instance_id: INSTANCE_ID,
  report: report(overrides),
  now,
  ...(keepalive_ms === undefined ? {} : { keepalive_ms }),
});
const terminate = (now = T2, reason?: string): InstanceCommand => ({
  type: 'TerminateInstance',
  instance_id: INSTANCE_ID,
  terminated_by: 'operator',
  now,
  reason,
});
const enrol = (overrides: Partial<Extract<InstanceCommand, { type: 'EnrolAgent' }>> = {}): InstanceCommand => ({
  type: 'EnrolAgent',
  instance_id: INSTANCE_ID,
  presented_token_sha256: ENROLMENT_TOKEN_SHA256,
  credential_sha256: sha256('credential-1'),
  agent_version: '0.1.0',
  now: T1,
  ...overrides,
});
const check = (now: string, last: string | null = null, watching_since = T0): InstanceCommand => ({
  type: 'CheckHeartbeat',
  instance_id: INSTANCE_ID,
  now,
  interval_ms: 30_000,
  last_heartbeat_at: last,
  watching_since,
});

describe('instance decider', () => {
  describe('RequestProvision', () => {
    it('records a pending instance of the node with the token digest only', () => {
      given(instanceDecider, []).when(requestProvision()).then([provisionRequested()]);
    });

    it("refuses a machine driver when the template's closure holds no base OS (base_missing, naming the template)", () => {
      given(instanceDecider, [])
        .when(requestProvision({ driver: 'nspawn', base_os: { required: true, present: false, template_id: 'tpl-base' } }))
        .thenRefuses({ code: 'base_missing', rule: 'base_os_required', details: { template_id: 'tpl-base', driver: 'nspawn' } });
    });

    it('provisions on a machine driver once a system-base module is desired', () => {
      given(instanceDecider, [])
        .when(requestProvision({ base_os: { required: true, present: true, template_id: 'tpl-base' } }))
        .then([provisionRequested()]);
    });

    it('needs no base OS on a driver that boots no machine', () => {
      given(instanceDecider, [])
        .when(requestProvision({ base_os: { required: false, present: false, template_id: 'tpl-base' } }))
        .then([provisionRequested()]);
    });

    it('refuses a node that does not exist (not_found)', () => {
      given(instanceDecider, [])
        .when(requestProvision({ node: null }))
        .thenRefuses({ code: 'not_found', rule: 'node_must_exist', details: { field: 'node_id' } });
    });

    it('treats a retried request (same node, same token) as done', () => {
      given(instanceDecider, [provisionRequested()]).when(requestProvision()).then([]);
    });

    it('refuses an instance id that is already used for another request (already_exists)', () => {
      given(instanceDecider, [provisionRequested()])
        .when(requestProvision({ enrolment_token_sha256: sha256('another token') }))
        .thenRefuses({ code: 'already_exists', rule: 'instance_id_unique' });
    });

    it('refuses an enrolment expiry that is not in the future', () => {
      given(instanceDecider, [])
        .when(requestProvision({ enrolment_expires_at: T0 }))
        .thenRefuses({ code: 'validation_failed', rule: 'enrolment_expiry_in_future' });
    });

    it('refuses a token digest that is not SHA-256 hex (a plain token must never reach the log)', () => {
      given(instanceDecider, [])
        .when(requestProvision({ enrolment_token_sha256: 'enrol-token-plain' }))
        .thenRefuses({ code: 'validation_failed', rule: 'sha256_hex' });
    });
  });

  describe('status machine', () => {
    const pairs: [InstanceStatus, InstanceStatus][] = [];
    for (const from of INSTANCE_STATUSES) for (const to of INSTANCE_STATUSES) if (from !== to && to !== 'terminated') pairs.push([from, to]);
    const allowed = pairs.filter(([from, to]) => INSTANCE_TRANSITIONS[from].includes(to));
    const refused = pairs.filter(([from, to]) => !INSTANCE_TRANSITIONS[from].includes(to));

    it.each(allowed)('allows %s → %s', (from, to) => {
      given(instanceDecider, historyTo(from))
        .when(changeStatus(to, 'driver reported', T3))
        .then([statusChanged(from, to, T3, 'driver reported')]);
    });

    it.each(refused)('refuses %s → %s with invalid_transition naming both', (from, to) => {
      given(instanceDecider, historyTo(from))
        .when(changeStatus(to))
        .thenRefuses({ code: 'invalid_transition', rule: 'instance_status_machine', message: new RegExp(`from ${from} to ${to}`), details: { from, to } });
    });

    it('lists what the current status allows in the refusal', () => {
      given(instanceDecider, historyTo('stopped'))
        .when(changeStatus('running'))
        .thenRefuses({ code: 'invalid_transition', message: /allowed from stopped: starting, terminated/, details: { allowed: ['starting', 'terminated'] } });
    });

    it('says "none" for what a terminated instance allows', () => {
      given(instanceDecider, historyTo('terminated'))
        .when(changeStatus('starting'))
        .thenRefuses({ code: 'invalid_transition', message: /allowed from terminated: none/ });
    });

    it('covers every refused pair of the 9 statuses (the table is total)', () => {
      expect(allowed.length + refused.length).toBe(9 * 8 - 8);
      expect(refused.length).toBeGreaterThan(0);
    });

    it.each(INSTANCE_STATUSES.filter((s) => s !== 'terminated'))('treats a repeated report of %s as done', (status) => {
      given(instanceDecider, historyTo(status)).when(changeStatus(status)).then([]);
    });

    it('refuses an unknown status with validation_failed', () => {
      given(instanceDecider, historyTo('running')).when(changeStatus('paused')).thenRefuses({ code: 'validation_failed', rule: 'instance_status_value' });
    });

    it('refuses terminated through ChangeStatus: termination records who asked for it', () => {
      given(instanceDecider, historyTo('running'))
        .when(changeStatus('terminated'))
        .thenRefuses({ code: 'validation_failed', rule: 'terminate_via_terminate_command' });
    });

    it('refuses a status change of an instance that does not exist (not_found)', () => {
      given(instanceDecider, []).when(changeStatus('provisioning')).thenRefuses({ code: 'not_found', rule: 'instance_must_exist' });
    });
  });

  describe('TerminateInstance', () => {
    it.each(INSTANCE_STATUSES.filter((s) => s !== 'terminated'))('terminates an instance that is %s', (from) => {
      given(instanceDecider, historyTo(from))
        .when(terminate(T2))
        .then([terminated(from, T2)]);
    });

    it('keeps the reason given', () => {
      given(instanceDecider, historyTo('running'))
        .when(terminate(T2, 'tutorial cleanup'))
        .then([terminated('running', T2, 'tutorial cleanup')]);
    });

    it('is idempotent: terminating a terminated instance records nothing and is not an error', () => {
      given(instanceDecider, historyTo('terminated')).when(terminate(T3)).then([]);
    });

    it('refuses an instance that does not exist (not_found)', () => {
      given(instanceDecider, []).when(terminate()).thenRefuses({ code: 'not_found', rule: 'instance_must_exist' });
    });
  });

  describe('EnrolAgent', () => {
    const enrolled = {
      type: 'InstanceEnrolled' as const,
      data: { instance_id: INSTANCE_ID, credential_sha256: sha256('credential-1'), agent_version: '0.1.0', enrolled_at: T1 },
    };

    it('records the credential digest when the agent presents the right token in time', () => {
      given(instanceDecider, historyTo('starting')).when(enrol()).then([enrolled]);
    });

    it('refuses a wrong token as unauthenticated', () => {
      given(instanceDecider, historyTo('starting'))
        .when(enrol({ presented_token_sha256: sha256('guess') }))
        .thenRefuses({ code: 'unauthenticated', rule: 'enrolment_token_invalid' });
    });

    it('refuses an expired token with the same message as a wrong one', () => {
      const wrong = given(instanceDecider, historyTo('starting')).when(enrol({ presented_token_sha256: sha256('guess') }));
      const expired = given(instanceDecider, historyTo('starting')).when(enrol({ now: NEXT_DAY }));
      expired.thenRefuses({ code: 'unauthenticated', rule: 'enrolment_token_expired' });
      let wrongMessage = '';
      let expiredMessage = '';
      try {
        wrong.events();
      } catch (error) {
        wrongMessage = (error as Error).message;
      }
      try {
        expired.events();
      } catch (error) {
        expiredMessage = (error as Error).message;
      }
      expect(expiredMessage).toBe(wrongMessage);
    });

    it('refuses a token that was already used for another credential', () => {
      given(instanceDecider, [...historyTo('starting'), enrolled])
        .when(enrol({ credential_sha256: sha256('credential-2') }))
        .thenRefuses({ code: 'unauthenticated', rule: 'enrolment_token_used' });
    });

    it('treats a retried enrolment with the same credential as done', () => {
      given(instanceDecider, [...historyTo('starting'), enrolled])
        .when(enrol())
        .then([]);
    });

    it('refuses a retried enrolment once the token expired: it obtains nothing, not even the credential again', () => {
      given(instanceDecider, [...historyTo('starting'), enrolled])
        .when(enrol({ now: '2099-01-01T00:00:00.000Z' }))
        .thenRefuses({ code: 'unauthenticated', rule: 'enrolment_token_expired' });
    });

    it('refuses enrolment of a terminated instance (conflict)', () => {
      given(instanceDecider, historyTo('terminated')).when(enrol()).thenRefuses({ code: 'conflict', rule: 'instance_terminated' });
    });
  });

  describe('RecordHeartbeat', () => {
    it.each(['pending', 'provisioning', 'starting'] as const)('marks a %s instance running on the first heartbeat and records the report', (from) => {
      given(instanceDecider, historyTo(from))
        .when(heartbeat(T1))
        .then([statusChanged(from, 'running', T1, 'first heartbeat from the agent'), heartbeatReceived(T1)]);
    });

    it('marks a rebooting instance running when its agent reports again', () => {
      given(instanceDecider, historyTo('rebooting'))
        .when(heartbeat(T1))
        .then([statusChanged('rebooting', 'running', T1, 'agent reported after the reboot'), heartbeatReceived(T1)]);
    });

    it.each(['stopping', 'stopped', 'error'] as const)('records a heartbeat of a %s instance without changing its status', (status) => {
      given(instanceDecider, historyTo(status))
        .when(heartbeat(T1))
        .then([heartbeatReceived(T1)]);
    });

    it('does not record an unchanged report again within the keep-alive interval', () => {
      given(instanceDecider, [...historyTo('running'), heartbeatReceived(T1)])
        .when(heartbeat(T2))
        .then([]);
    });

    it('records an unchanged report once the keep-alive interval has passed', () => {
      given(instanceDecider, [...historyTo('running'), heartbeatReceived(T1)])
        .when(heartbeat(T3, {}, 60_000))
        .then([heartbeatReceived(T3)]);
    });

    it('records a report whose running set changed', () => {
      const running = { 'my-redis': composefsOf('my-redis', '0.2.0') };
      given(instanceDecider, [...historyTo('running'), heartbeatReceived(T1)])
        .when(heartbeat(T2, { running_module_digests: running }))
        .then([heartbeatReceived(T2, { running_module_digests: running })]);
    });

    it.each([
      ['composed root hash', { composed_root_hash: digestOf('root') }],
      ['errors', { errors: [{ module: 'my-redis', code: 'fsverity_mismatch', message: 'fsverity verification failed' }] }],
      ['agent version', { agent_version: '0.2.0' }],
      ['boot id', { boot_id: 'boot-2' }],
      ['running set (a module gone)', { running_module_digests: {} }],
    ])('records a report whose %s changed', (_what, change) => {
      given(instanceDecider, [...historyTo('running'), heartbeatReceived(T1)])
        .when(heartbeat(T2, change))
        .then([heartbeatReceived(T2, change)]);
    });

    it('ignores a report older than the one recorded (reports overtaking each other)', () => {
      given(instanceDecider, [...historyTo('running'), heartbeatReceived(T2)])
        .when(heartbeat(T1, { boot_id: 'boot-0' }))
        .then([]);
    });

    it('records the first report after a stale mark, which clears it', () => {
      const stale = {
        type: 'InstanceHeartbeatStale' as const,
        data: { instance_id: INSTANCE_ID, last_heartbeat_at: T1, threshold_ms: 90_000, detected_at: T3 },
      };
      const g = given(instanceDecider, [...historyTo('running'), heartbeatReceived(T1), stale]);
      expect(g.state).toMatchObject({ heartbeat_stale: true });
      g.when(heartbeat(LATER)).then([heartbeatReceived(LATER)]);
    });

    it('refuses a heartbeat of a terminated instance (conflict) so its agent learns to stop', () => {
      given(instanceDecider, historyTo('terminated')).when(heartbeat(T3)).thenRefuses({ code: 'conflict', rule: 'instance_terminated' });
    });

    it('refuses a heartbeat of an unknown instance (not_found)', () => {
      given(instanceDecider, []).when(heartbeat(T1)).thenRefuses({ code: 'not_found' });
    });
  });

  describe('CheckHeartbeat', () => {
    const running = [...historyTo('running'), heartbeatReceived(T1)];

    it('marks a running instance stale after three missed intervals', () => {
      given(instanceDecider, running)
        .when(check(T3))
        .then([{ type: 'InstanceHeartbeatStale', data: { instance_id: INSTANCE_ID, last_heartbeat_at: T1, threshold_ms: 90_000, detected_at: T3 } }]);
    });

    it('does not mark it stale within three intervals', () => {
      given(instanceDecider, running).when(check(T2)).then([]);
    });

    it('uses the liveness table when it has a newer report than the log', () => {
      given(instanceDecider, running).when(check(T3, '2026-05-01T10:04:00.000Z')).then([]);
    });

    it('gives a provisioner that just started one threshold before blaming the agent', () => {
      given(instanceDecider, running)
        .when(check(T3, null, '2026-05-01T10:04:00.000Z'))
        .then([]);
    });

    it('marks it only once', () => {
      const stale = {
        type: 'InstanceHeartbeatStale' as const,
        data: { instance_id: INSTANCE_ID, last_heartbeat_at: T1, threshold_ms: 90_000, detected_at: T3 },
      };
      given(instanceDecider, [...running, stale])
        .when(check(LATER))
        .then([]);
    });

    it.each(['pending', 'provisioning', 'starting', 'stopping', 'stopped', 'rebooting', 'error', 'terminated'] as const)(
      'does not expect heartbeats from a %s instance',
      (status) => {
        given(instanceDecider, historyTo(status)).when(check(NEXT_DAY)).then([]);
      },
    );

    it('refuses a non-positive interval', () => {
      given(instanceDecider, running)
        .when({ ...(check(T3) as Extract<InstanceCommand, { type: 'CheckHeartbeat' }>), interval_ms: 0 })
        .thenRefuses({ code: 'validation_failed', rule: 'positive_interval' });
    });
  });

  describe('evolve', () => {
    it('folds the tutorial journey: provisioned, started, running with my-redis, terminated', () => {
      const { state } = given(instanceDecider, [...historyTo('running'), heartbeatReceived(T1), terminated('running', T3)]);
      expect(state).toMatchObject({
        status: 'terminated',
        node_id: NODE_ID,
        last_recorded_heartbeat: { at: T1, running_module_digests: { 'my-redis': composefsOf('my-redis', '0.1.0') } },
        status_changed_at: T3,
      });
    });
  });
});
