import { PowernodeError } from '@powernode/contracts';

/** A page request: an opaque cursor from the previous page (absent for the first) and a page size. */
export interface PageRequest {
  cursor?: string | null;
  limit?: number | null;
}

/** One page of a list; `next_cursor` is null on the last page. */
export interface PageResult<T> {
  items: T[];
  next_cursor: string | null;
}

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;

/** The sort key of a list item: a tuple of JSON scalars. */
export type SortKey = readonly (string | number | null)[];

/**
 * A page of `items` (already sorted by `compareKeys` over `keyOf`). The cursor encodes the sort key of the last
 * item returned, so paging stays stable when items are added or removed between requests.
 */
export function paginate<T>(
  items: readonly T[],
  keyOf: (item: T) => SortKey,
  compareKeys: (a: SortKey, b: SortKey) => number,
  page: PageRequest = {},
): PageResult<T> {
  const limit = pageLimit(page.limit);
  const after = page.cursor ? decodeCursor(page.cursor, items.length > 0 ? keyOf(items[0] as T).length : undefined) : null;
  const start = after === null ? 0 : firstIndexAfter(items, keyOf, compareKeys, after);
  const slice = items.slice(start, start + limit);
  const hasMore = start + limit < items.length;
  return { items: slice, next_cursor: hasMore && slice.length > 0 ? encodeCursor(keyOf(slice[slice.length - 1] as T)) : null };
}

function pageLimit(limit: number | null | undefined): number {
  if (limit === undefined || limit === null) return DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new PowernodeError('validation_failed', `limit must be an integer from 1 to ${MAX_PAGE_LIMIT}, got ${limit}`, {
      details: { field: 'limit', rule: 'page_limit_range' },
    });
  }
  return limit;
}

function firstIndexAfter<T>(items: readonly T[], keyOf: (item: T) => SortKey, compareKeys: (a: SortKey, b: SortKey) => number, after: SortKey): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keyOf(items[mid] as T), after) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function encodeCursor(key: SortKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, expectedLength: number | undefined): SortKey {
  const refuse = (cause?: unknown): never => {
    throw new PowernodeError(
      'validation_failed',
      'cursor is not one this list issued: pass next_cursor from the previous page unchanged, or omit it for the first page',
      {
        details: { field: 'cursor', rule: 'cursor_from_this_list' },
        cause,
      },
    );
  };
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    return refuse(error);
  }
  if (!Array.isArray(key) || !key.every((v) => v === null || typeof v === 'string' || typeof v === 'number')) return refuse();
  if (expectedLength !== undefined && key.length !== expectedLength) return refuse();
  return key as SortKey;
}
