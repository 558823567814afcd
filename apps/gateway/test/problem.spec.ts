import { PowernodeError } from '@powernode/contracts';
import { toProblem } from '../src/http/problem.js';

describe('problem+json bodies', () => {
  it('keep the members RFC 9457 defines when a detail has the same name', () => {
    const error = new PowernodeError('instance_terminated', 'instance i-1 is terminated', {
      details: { status: 'terminated', type: 'x', code: 'y', instance_id: 'i-1' },
    });
    expect(toProblem(error, '/api/v1/system/instances/i-1/exec', 'c-1')).toEqual({
      type: 'https://powernode.dev/problems/instance_terminated',
      title: 'instance terminated',
      status: 409,
      detail: 'instance i-1 is terminated',
      code: 'instance_terminated',
      instance: '/api/v1/system/instances/i-1/exec',
      correlation_id: 'c-1',
      instance_id: 'i-1',
    });
  });

  it("never leak an unknown error's message", () => {
    expect(toProblem(new Error('password=hunter2'))).toMatchObject({ status: 500, code: 'internal', detail: expect.not.stringContaining('hunter2') });
  });
});
