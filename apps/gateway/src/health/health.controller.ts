import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { runReadinessChecks, type ReadinessCheck } from './readiness.js';

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

/** Liveness and readiness for orchestrators: /healthz says the process is up, /readyz that it can serve. */
@Controller()
export class HealthController {
  constructor(@Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[]) {}

  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Res() res: Response): Promise<void> {
    const report = await runReadinessChecks(this.checks);
    const failing = Object.entries(report.checks)
      .filter(([, r]) => !r.ok)
      .map(([name]) => name);
    res.status(report.status === 'ready' ? 200 : 503).json(failing.length ? { ...report, unavailable: failing } : report);
  }
}
