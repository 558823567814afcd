import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Authenticator } from '../auth/authenticator.js';
import { runReadinessChecks, withoutErrorTexts, type ReadinessCheck } from './readiness.js';

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');
export const READINESS_AUTHENTICATOR = Symbol('READINESS_AUTHENTICATOR');

/** Liveness and readiness for orchestrators: /healthz says the process is up, /readyz that it can serve. */
@Controller()
export class HealthController {
  constructor(
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
    @Inject(READINESS_AUTHENTICATOR) private readonly authenticator: Authenticator,
  ) {}

  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Anyone (an orchestrator's probe) sees what is down; only a caller with a valid bearer token also sees why. */
  @Get('readyz')
  async readyz(@Req() req: Request, @Res() res: Response): Promise<void> {
    const [full, trusted] = await Promise.all([runReadinessChecks(this.checks), this.hasValidToken(req.headers.authorization)]);
    const report = trusted ? full : withoutErrorTexts(full);
    const failing = Object.entries(report.checks)
      .filter(([, r]) => !r.ok)
      .map(([name]) => name);
    res.status(report.status === 'ready' ? 200 : 503).json(failing.length ? { ...report, unavailable: failing } : report);
  }

  private async hasValidToken(authorization: string | undefined): Promise<boolean> {
    if (authorization === undefined) return false;
    try {
      await this.authenticator.authenticate(authorization);
      return true;
    } catch {
      // A wrong token is not an error here: the probe still answers, without the details.
      return false;
    }
  }
}
