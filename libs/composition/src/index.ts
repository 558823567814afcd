export {
  composePreview,
  type ComposableModule,
  type ComposeInput,
  type ComposedLayer,
  type ComposePreview,
  type CompositionConflict,
} from './compose-preview.js';
export { effectiveMask, type MaskSource } from './effective-mask.js';
export { effectivePriority, categoryPosition, CATEGORY_PRIORITY_STRIDE } from './layer-priority.js';
export { findProvidesConflicts, providesConflictKey, type CapabilityClaim, type ProvidesConflict } from './provides-conflicts.js';
export { findProtectedOverlaps, type ProtectedOverlapConflict, type ProtectedPathOverlap, type ProtectedPathSource } from './protected-overlaps.js';
