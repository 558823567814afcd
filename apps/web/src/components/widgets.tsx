import { useEffect, useId, useState, type InputHTMLAttributes, type ReactNode } from 'react';
import { ApiError } from '../api/api-client.js';
import { relativeTime, shortDigest } from '../domain/relative-time.js';

/** Copies `value` to the clipboard; says so for a moment (and to screen readers). */
export function CopyButton(props: { value: string; label: string }) {
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(props.value);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
    setTimeout(() => setCopied(null), 2000);
  };
  return (
    <button type="button" className="copy" onClick={() => void copy()} aria-label={props.label}>
      {copied === 'yes' ? 'Copied' : copied === 'failed' ? 'Copy failed' : 'Copy'}
      <span className="visually-hidden" aria-live="polite">
        {copied === 'yes' ? 'copied to the clipboard' : ''}
      </span>
    </button>
  );
}

/** A digest shortened for the eye, whole in the title and the copy button. */
export function Digest(props: { value: string | null; what: string }) {
  if (!props.value) return <span className="muted">—</span>;
  return (
    <span className="digest">
      <code title={props.value}>{shortDigest(props.value)}</code>
      <CopyButton value={props.value} label={`Copy ${props.what}`} />
    </span>
  );
}

/** "12 s ago", kept current while the page is open. */
export function RelativeTime(props: { iso: string | null }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return (
    <time dateTime={props.iso ?? undefined} title={props.iso ?? undefined}>
      {relativeTime(props.iso, now)}
    </time>
  );
}

export function StateBadge(props: { state: string }) {
  return <span className={`badge state-${props.state}`}>{props.state}</span>;
}

/** An error answer as a person reads it: the problem's detail and code. */
export function ErrorMessage(props: { error: unknown }) {
  if (!props.error) return null;
  const e = props.error;
  const text = e instanceof ApiError ? `${e.problem.detail} (${e.code})` : e instanceof Error ? e.message : String(e);
  return (
    <p role="alert" className="error">
      {text}
    </p>
  );
}

/** A labelled input with its validation message right under it, tied to it for assistive technology. */
export function Field(props: { label: string; error?: string | undefined; hint?: ReactNode } & InputHTMLAttributes<HTMLInputElement>) {
  const { label, error, hint, ...input } = props;
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-invalid={error ? true : undefined} aria-describedby={error ? `${id}-error` : hint ? `${id}-hint` : undefined} {...input} />
      {hint && !error ? (
        <small id={`${id}-hint`} className="hint">
          {hint}
        </small>
      ) : null}
      {error ? (
        <small id={`${id}-error`} className="field-error">
          {error}
        </small>
      ) : null}
    </div>
  );
}

/** A labelled select, like Field. */
export function SelectField(props: { label: string; value: string; options: readonly string[]; onChange: (v: string) => void; error?: string | undefined }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <select id={id} value={props.value} onChange={(e) => props.onChange(e.target.value)} aria-describedby={props.error ? `${id}-error` : undefined}>
        {props.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
      {props.error ? (
        <small id={`${id}-error`} className="field-error">
          {props.error}
        </small>
      ) : null}
    </div>
  );
}
