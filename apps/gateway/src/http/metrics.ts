/** Request counters and latency sums in Prometheus text exposition format. */
export class HttpMetrics {
  private readonly requests = new Map<string, number>();
  private readonly seconds = new Map<string, number>();

  observe(route: string, method: string, status: number, durationMs: number): void {
    const key = `method="${method}",route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const skey = `method="${method}",route="${route}"`;
    this.seconds.set(skey, (this.seconds.get(skey) ?? 0) + durationMs / 1000);
  }

  render(gauges: Record<string, number> = {}): string {
    const lines = ['# HELP powernode_http_requests_total HTTP requests by route and status', '# TYPE powernode_http_requests_total counter'];
    for (const [k, v] of this.requests) lines.push(`powernode_http_requests_total{${k}} ${v}`);
    lines.push('# HELP powernode_http_request_seconds_sum Time spent serving requests', '# TYPE powernode_http_request_seconds_sum counter');
    for (const [k, v] of this.seconds) lines.push(`powernode_http_request_seconds_sum{${k}} ${v.toFixed(6)}`);
    for (const [name, value] of Object.entries(gauges)) lines.push(`# TYPE ${name} gauge`, `${name} ${value}`);
    return `${lines.join('\n')}\n`;
  }
}
