import { PowernodeError } from '@powernode/contracts';

/** Width of a category's band of priorities: a module's own priority must stay below it. */
export const CATEGORY_PRIORITY_STRIDE = 1000;

/** Position of a category in the ordered category list, starting at 1; refuses an unknown category. */
export function categoryPosition(category: string, categories: readonly string[]): number {
  const index = categories.indexOf(category);
  if (index === -1) {
    throw new PowernodeError('validation_failed', `category "${category}" is not one of ${categories.join(', ')}`, {
      details: { field: 'category', category, rule: 'category_known' },
    });
  }
  return index + 1;
}

/**
 * Layer priority of a module: category position × 1000 + the module's own priority (0–999). Higher layers sit
 * above lower ones in the overlay and win at runtime.
 */
export function effectivePriority(category: string, priority: number, categories: readonly string[]): number {
  if (!Number.isInteger(priority) || priority < 0 || priority >= CATEGORY_PRIORITY_STRIDE) {
    throw new PowernodeError(
      'validation_failed',
      `module priority ${priority} must be an integer from 0 to ${CATEGORY_PRIORITY_STRIDE - 1} (it orders modules inside their category)`,
      {
        details: { field: 'priority', priority, rule: 'priority_in_category_band' },
      },
    );
  }
  return categoryPosition(category, categories) * CATEGORY_PRIORITY_STRIDE + priority;
}
