import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { PowernodeError } from '@powernode/contracts';
import { writeFileAtomically } from '@powernode/host-machine';

/*
 * The instance credential, persisted so that a restarted agent carries on without re-enrolling: the enrolment
 * token is one-time, so losing the credential would orphan the instance. Kept at `<data dir>/credential.json`,
 * mode 0600, written atomically.
 */

const storedCredential = z.object({
  instance_id: z.string().min(1),
  credential: z.string().min(16),
  heartbeat_interval_ms: z.number().int().positive(),
  enrolled_at: z.string(),
});

/** What enrolment left on disk. */
export type StoredCredential = z.infer<typeof storedCredential>;

/** Where the credential lives. */
export function credentialPath(dataDir: string): string {
  return path.join(dataDir, 'credential.json');
}

/**
 * The persisted credential of `instanceId`, or null when none was persisted. A file for another instance (a
 * data dir reused across instances) or a malformed one counts as none: the caller enrols again.
 */
export async function readStoredCredential(dataDir: string, instanceId: string): Promise<{ credential: StoredCredential | null; problem?: string }> {
  let text: string;
  try {
    text = await readFile(credentialPath(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { credential: null };
    throw new PowernodeError('internal', `cannot read ${credentialPath(dataDir)}: ${(error as Error).message}; check the data dir's permissions`, {
      cause: error,
    });
  }
  let parsed: ReturnType<typeof storedCredential.safeParse>;
  try {
    parsed = storedCredential.safeParse(JSON.parse(text));
  } catch {
    return { credential: null, problem: `${credentialPath(dataDir)} is not JSON` };
  }
  if (!parsed.success) return { credential: null, problem: `${credentialPath(dataDir)} does not hold a credential` };
  if (parsed.data.instance_id !== instanceId) {
    return { credential: null, problem: `${credentialPath(dataDir)} belongs to instance ${parsed.data.instance_id}, not ${instanceId}` };
  }
  return { credential: parsed.data };
}

/** Persists the credential (mode 0600, atomically). */
export async function writeStoredCredential(dataDir: string, credential: StoredCredential): Promise<void> {
  await writeFileAtomically(credentialPath(dataDir), `${JSON.stringify(credential, null, 2)}\n`, 0o600);
}
