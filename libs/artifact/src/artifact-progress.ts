import type { UploadVia } from '@powernode/oci';
import type { ModuleBlobRole } from './artifact-media-types.js';

/** What each progress step reports, keyed by step name (snake_case, as the CLI prints them with --json). */
export interface ArtifactProgressDetails {
  /** The module tree was read: how much will go into the tar layer. */
  tree_read: { entries: number; files: number; bytes: number };
  /** One more entry went into the tar layer. */
  tree_entry_archived: { path: string; entries_done: number; entries_total: number; bytes_done: number; bytes_total: number };
  /** A blob of the artifact is complete. */
  blob_built: { role: ModuleBlobRole; digest: string; size: number };
  /** The image manifest is complete. */
  manifest_built: { digest: string; root_hash: string; composefs_digest: string };
  /** A blob reached the registry (or was already there). */
  blob_pushed: { role: ModuleBlobRole; digest: string; size: number; via: UploadVia };
  /** The manifest was stored under its tag (or digest). */
  manifest_pushed: { digest: string; reference: string };
  /** The manifest was pulled and its digest checked. */
  manifest_pulled: { digest: string };
  /** A blob was pulled and its digest and size checked. */
  blob_pulled: { role: ModuleBlobRole; digest: string; size: number; cached: boolean };
  /** Every file of the tree matched the composefs description, which matched the root hash. */
  tree_verified: { entries: number; root_hash: string; recorded: boolean };
}

/** A progress step name. */
export type ArtifactProgressStep = keyof ArtifactProgressDetails;

/** Receives progress of a build, push or pull; must not throw. */
export type ArtifactProgressListener = <S extends ArtifactProgressStep>(step: S, detail: ArtifactProgressDetails[S]) => void;
