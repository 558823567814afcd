import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Authenticator } from '../auth/authenticator.js';
import type { BusLeadership } from './bus-leadership.js';
import { runReadinessChecks, withoutErrorTexts, type ReadinessCheck } from './readiness.js';

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');
export const READINESS_AUTHENTICATOR = Symbol('READINESS_AUTHENTICATOR');
/** Who leads on the bus (relay holder, consumer lag), shown to callers with a bearer token. */
export const READINESS_BUS = Symbol('READINESS_BUS');

/** Liveness and readiness for orchestrators: /healthz says the process is up, /readyz that it can serve. */
@Controller()
export class HealthController {
  constructor(
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
    @Inject(READINESS_AUTHENTICATOR) private readonly authenticator: Authenticator,
    @Inject(READINESS_BUS) private readonly bus: () => Promise<BusLeadership>,
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
    // Which replica relays names a host: like the error texts, for callers with a token only. It informs; a
    // platform between relay holders still serves, so it is no readiness check.
    const bus = trusted ? await this.bus().catch((error: Error) => ({ error: error.message })) : undefined;
    res.status(report.status === 'ready' ? 200 : 503).json({ ...report, ...(failing.length ? { unavailable: failing } : {}), ...(bus ? { bus } : {}) });
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
