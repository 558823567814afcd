import { useState, type FormEvent } from 'react';
import { ErrorMessage, Field } from '../components/widgets.js';

/** Paste a bearer token; the app checks it with GET /whoami before keeping it. */
export function SignIn(props: { onToken: (token: string) => Promise<void>; notice?: string | undefined }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await props.onToken(token.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="sign-in">
      <h1>Powernode</h1>
      <form onSubmit={(e) => void submit(e)} aria-label="Sign in">
        <h2>Sign in</h2>
        {props.notice ? <p role="status">{props.notice}</p> : null}
        <Field
          label="Bearer token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          required
          hint="Kept in this tab only (sessionStorage) and sent as Authorization: Bearer."
        />
        <ErrorMessage error={error} />
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
      </form>
    </main>
  );
}
