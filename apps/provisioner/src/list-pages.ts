import { PowernodeError } from '@powernode/contracts';

/** One page of a sorted list; `next_cursor` is null on the last page. */
export interface ListPage<T> {
  items: T[];
  next_cursor: string | null;
}

const DEFAULT_LIMIT = 50;

/**
 * The page of `items` (already sorted by `keyOf`, keys unique) after the item whose key the cursor encodes.
 * The cursor is the last key of the previous page, so items added or removed meanwhile neither repeat nor
 * shift the next page.
 */
export function pageOf<T>(items: readonly T[], keyOf: (item: T) => string, page: { limit?: number | undefined; cursor?: string | undefined }): ListPage<T> {
  const limit = page.limit ?? DEFAULT_LIMIT;
  const after = page.cursor === undefined ? null : decodeCursor(page.cursor);
  const start = after === null ? 0 : items.findIndex((item) => keyOf(item) > after);
  const slice = start === -1 ? [] : items.slice(start, start + limit);
  const more = start !== -1 && start + limit < items.length;
  return { items: slice, next_cursor: more && slice.length > 0 ? Buffer.from(keyOf(slice[slice.length - 1]!), 'utf8').toString('base64url') : null };
}

function decodeCursor(cursor: string): string {
  const key = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (key === '' || key.includes('\uFFFD')) {
    throw new PowernodeError(
      'validation_failed',
      'cursor is not one this list issued: pass next_cursor from the previous page unchanged, or omit it for the first page',
      {
        details: { field: 'cursor', rule: 'cursor_from_previous_page' },
      },
    );
  }
  return key;
}
