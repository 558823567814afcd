export { splitArgv, CommandSyntaxError } from './command-argv.js';
export { formatYamlPath, type YamlPathSegment } from './manifest-issues.js';
export { analyzeManifestYaml, validateManifestYaml, parseModuleManifestYaml, MAX_MANIFEST_BYTES, type ManifestAnalysis } from './validate-manifest-yaml.js';
export { validateModuleDir } from './validate-module-dir.js';
export { findExcessiveNesting, MAX_MANIFEST_NESTING, type ExcessiveNesting } from './yaml-nesting.js';
export { formatValidationReport } from './validation-report.js';
export type { IndexedGlob, ManifestGlobs } from './manifest-semantics.js';
export { OffThreadManifestValidator, MANIFEST_VALIDATION_TIMEOUT_MS, MANIFEST_VALIDATION_QUEUE } from './off-thread-validation.js';
