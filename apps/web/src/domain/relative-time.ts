/** "12 s ago", "3 min ago", "2 h ago", "5 d ago"; "never" for null; "in the future" for a clock ahead of ours. */
export function relativeTime(iso: string | null, now: number): string {
  if (iso === null) return 'never';
  const ms = now - Date.parse(iso);
  if (Number.isNaN(ms)) return 'unknown';
  if (ms < -5_000) return 'in the future';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

/** `sha256:0123456789ab…` → `sha256:0123456789ab`: enough to tell digests apart on screen. */
export function shortDigest(digest: string | null): string {
  if (!digest) return '—';
  const [algo, hex] = digest.includes(':') ? digest.split(':', 2) : ['', digest];
  return `${algo ? `${algo}:` : ''}${hex!.slice(0, 12)}`;
}
