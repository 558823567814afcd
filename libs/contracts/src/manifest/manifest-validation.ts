import { z } from 'zod';
import { lazySchema } from '../lazy-schema.js';

/*
 * The result of validating a module manifest (MCP `system_validate_module_manifest`, `powernode module validate
 * --json`): `{valid, errors:[{path, message}], warnings:[…]}`. `path` is a YAML path into manifest.yaml
 * (`dependencies.requires[0]`, `""` for the whole document); `line`/`column` are 1-based positions in it.
 */

/** Why an issue was raised; a closed set so clients can react to a kind of problem without parsing messages. */
export const MANIFEST_ISSUE_CODES = [
  // the YAML text itself
  'yaml_syntax',
  'yaml_warning',
  'manifest_empty',
  'manifest_too_large',
  'manifest_too_deep',
  'not_a_mapping',
  // the schema
  'missing_field',
  'unknown_key',
  'invalid_type',
  'invalid_value',
  // meaning of the fields
  'invalid_glob',
  'glob_limit_exceeded',
  'duplicate_entry',
  'mask_file_spec_conflict',
  'protected_not_owned',
  'invalid_command',
  'invalid_requires',
  'self_dependency',
  'duplicate_service',
  'missing_start_command',
  'unknown_capability',
  'invalid_package_name',
  'invalid_egress',
  'privileged_module',
  // the module directory
  'manifest_missing',
  'rootfs_invalid',
  'unsupported_file_type',
  'uncovered_rootfs_file',
  'masked_rootfs_file',
  'unmatched_file_spec',
  'set_id_stripped',
] as const;
export const manifestIssueCodeSchema = lazySchema(() => z.enum(MANIFEST_ISSUE_CODES));
export type ManifestIssueCode = z.infer<typeof manifestIssueCodeSchema>;

export const manifestValidationIssueSchema = lazySchema(() =>
  z.object({
    /** YAML path of the offending field (`services[1].exposed_ports[0].port`); `""` for the whole document. */
    path: z.string(),
    message: z.string(),
    code: manifestIssueCodeSchema,
    line: z.number().int().min(1).optional(),
    column: z.number().int().min(1).optional(),
    /** The module file the issue is about when it is not manifest.yaml itself (`rootfs/etc/redis/redis.conf`). */
    file: z.string().optional(),
  }),
);
export type ManifestValidationIssue = z.infer<typeof manifestValidationIssueSchema>;

export const manifestValidationResultSchema = lazySchema(() =>
  z.object({
    valid: z.boolean(),
    errors: z.array(manifestValidationIssueSchema),
    warnings: z.array(manifestValidationIssueSchema),
  }),
);
export type ManifestValidationResult = z.infer<typeof manifestValidationResultSchema>;
