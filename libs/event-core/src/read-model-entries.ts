/*
 * Read-model state is plain JSON objects used as maps and updated in place by `evolve`. Keys come from user
 * input (module names, hostnames, token ids), so lookups and stores must treat "constructor" or "__proto__"
 * as ordinary keys, exactly as JSON.parse gives a saved state back.
 */

/** The entry of a read-model map under `key`: own properties only, so a key such as "constructor" is just a key. */
export function entryOf<V>(map: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
}

/**
 * Stores `value` under `key` in place as an own, enumerable property. "__proto__" is stored as a plain key
 * (an assignment would replace the map's prototype instead), exactly as JSON.parse gives it back.
 */
export function setEntry<V>(map: Record<string, V>, key: string, value: V): void {
  if (key === '__proto__') Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
  else map[key] = value;
}

/** Plain code-unit string ordering (locale-independent, so listings are stable everywhere), for sort comparators. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
