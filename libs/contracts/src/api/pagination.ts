import { z } from 'zod';

/** Cursor pagination input shared by every list: `limit` 1–200 (default 50), opaque `cursor` from the last page. */
export const pageInputShape = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(500).optional(),
};

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
