import { useState, type FormEvent } from 'react';
import { createModuleInput, MODULE_VARIETIES, SEEDED_MODULE_CATEGORIES } from '@powernode/contracts/browser';
import { ApiError } from '../api/api-client.js';
import type { ModuleView } from '../api/api-types.js';
import { ErrorMessage, Field, SelectField, CopyButton } from '../components/widgets.js';
import { fieldErrors, type FieldIssue } from '../domain/field-errors.js';
import { Link } from '../router.js';
import { useCan, useSession } from '../session/session.js';

const FIELDS = ['name', 'display_name', 'category', 'variety', 'gitea_repo_full_name', 'cosign_identity_regexp', 'cosign_issuer_regexp'] as const;
type Form = Record<(typeof FIELDS)[number], string>;

/** The form's values as the API input: an empty display name is left out, as the CLI leaves it out. */
function inputOf(form: Form): Record<string, string> {
  const { display_name, ...rest } = form;
  return display_name.trim() === '' ? rest : { ...rest, display_name };
}

/** Validation issues exactly as the API would report them: the same zod schema. */
function localIssues(form: Form): FieldIssue[] {
  const result = createModuleInput.safeParse(inputOf(form));
  return result.success ? [] : result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/** Tutorial step 5 as a form; on success the webhook secret is shown once. */
export function ModuleNew() {
  if (!useCan('change')) {
    return (
      <section>
        <h1>Register a module</h1>
        <p>Your role cannot register modules: that needs an operator or admin token.</p>
      </section>
    );
  }
  return <ModuleForm />;
}

function ModuleForm() {
  const { api } = useSession();
  const [form, setForm] = useState<Form>({
    name: '',
    display_name: '',
    category: 'userland',
    variety: 'subscription',
    gitea_repo_full_name: '',
    cosign_identity_regexp: '',
    cosign_issuer_regexp: '',
  });
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [created, setCreated] = useState<{ module: ModuleView; webhook_secret: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const local = fieldErrors(localIssues(form), FIELDS);
  const errorFor = (f: string): string | undefined => serverErrors[f] ?? (touched[f] ? local[f] : undefined);
  const set = (f: keyof Form) => (value: string) => {
    setForm({ ...form, [f]: value });
    // The API's verdict on the old value no longer holds once the field changes.
    const { [f]: _stale, ...rest } = serverErrors;
    setServerErrors(rest);
  };
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setTouched(Object.fromEntries(FIELDS.map((f) => [f, true])));
    if (Object.keys(local).length > 0) return;
    setBusy(true);
    setError(undefined);
    try {
      setCreated(await api.call('system_create_module', createModuleInput.parse(inputOf(form))));
    } catch (err) {
      if (err instanceof ApiError && err.problem.issues) setServerErrors(fieldErrors(err.problem.issues, FIELDS));
      else if (err instanceof ApiError && typeof err.problem['field'] === 'string' && FIELDS.includes(err.problem['field'] as never))
        setServerErrors({ [err.problem['field'] as string]: err.problem.detail });
      else setError(err);
    } finally {
      setBusy(false);
    }
  };
  if (created) {
    return (
      <section aria-labelledby="created-heading">
        <h1 id="created-heading">Module {created.module.name} registered</h1>
        <div className="secret-box" role="region" aria-label="Webhook secret">
          <p className="warning">
            <strong>Copy the webhook secret now: it will not be shown again.</strong> CI signs its build reports with it (POWERNODE_WEBHOOK_SECRET).
          </p>
          <code data-testid="webhook-secret">{created.webhook_secret}</code>
          <CopyButton value={created.webhook_secret} label="Copy webhook secret" />
        </div>
        <p>
          <Link to={`/system/modules/${encodeURIComponent(created.module.name)}`}>Go to {created.module.name}</Link>
        </p>
      </section>
    );
  }
  const blur = (f: string) => () => setTouched({ ...touched, [f]: true });
  return (
    <section aria-labelledby="new-module-heading">
      <h1 id="new-module-heading">Register a module</h1>
      <form onSubmit={(e) => void submit(e)} noValidate className="form">
        <Field
          label="Name"
          value={form.name}
          onChange={(e) => set('name')(e.target.value)}
          onBlur={blur('name')}
          error={errorFor('name')}
          hint="e.g. my-redis"
        />
        <Field
          label="Display name"
          value={form.display_name}
          onChange={(e) => set('display_name')(e.target.value)}
          onBlur={blur('display_name')}
          error={errorFor('display_name')}
        />
        <SelectField label="Category" value={form.category} options={SEEDED_MODULE_CATEGORIES} onChange={set('category')} error={errorFor('category')} />
        <SelectField label="Variety" value={form.variety} options={MODULE_VARIETIES} onChange={set('variety')} error={errorFor('variety')} />
        <Field
          label="Gitea repository"
          value={form.gitea_repo_full_name}
          onChange={(e) => set('gitea_repo_full_name')(e.target.value)}
          onBlur={blur('gitea_repo_full_name')}
          error={errorFor('gitea_repo_full_name')}
          hint="owner/repo"
        />
        <Field
          label="Cosign identity regexp"
          value={form.cosign_identity_regexp}
          onChange={(e) => set('cosign_identity_regexp')(e.target.value)}
          onBlur={blur('cosign_identity_regexp')}
          error={errorFor('cosign_identity_regexp')}
        />
        <Field
          label="Cosign issuer regexp"
          value={form.cosign_issuer_regexp}
          onChange={(e) => set('cosign_issuer_regexp')(e.target.value)}
          onBlur={blur('cosign_issuer_regexp')}
          error={errorFor('cosign_issuer_regexp')}
        />
        {serverErrors['_form'] ? <p className="error">{serverErrors['_form']}</p> : null}
        <ErrorMessage error={error} />
        <button type="submit" disabled={busy}>
          Register module
        </button>
      </form>
    </section>
  );
}
