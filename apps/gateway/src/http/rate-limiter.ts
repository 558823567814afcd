/**
 * A token bucket per key (e.g. the webhook's source address): `burst` requests at once, refilled at
 * `perMinute`. Buckets idle long enough to be full are forgotten, so memory stays bounded by active sources.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes one token for `key`; false when the bucket is empty. */
  take(key: string): boolean {
    const now = this.clock();
    const refillPerMs = this.perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * refillPerMs);
    bucket.at = now;
    if (this.buckets.size > 10_000) this.sweep(now, refillPerMs);
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      return false;
    }
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    return true;
  }

  private sweep(now: number, refillPerMs: number): void {
    for (const [key, b] of this.buckets) if (b.tokens + (now - b.at) * refillPerMs >= this.burst) this.buckets.delete(key);
  }
}
