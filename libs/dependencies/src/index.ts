export { parseVersionFromTag, tryParseVersionFromTag, compareVersionsNewestFirst } from './version-tag.js';
export { promotionRank, isPromotedAtLeast } from './promotion-order.js';
export { resolveRequirement, type VersionCandidate, type RequirementResolution } from './resolve-requirement.js';
export {
  dependencyClosure,
  isClosureComplete,
  type CatalogView,
  type CatalogModuleView,
  type ClosureOptions,
  type DependencyClosure,
  type DependencyEdge,
  type MissingDependency,
  type UnpromotedDependency,
  type InvalidRequirement,
  type RangeConflict,
} from './dependency-closure.js';
