/**
 * JSON with object keys sorted at every depth and no whitespace, otherwise as JSON.stringify writes it
 * (undefined members dropped, undefined array items as null, toJSON honoured, array order kept): the same
 * document gives the same text, and so the same digest, whatever order its fields were built in. Manifest
 * digests, desired generations and composition keys are all computed from it.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, member: unknown) =>
    member !== null && typeof member === 'object' && !Array.isArray(member) ? sortedMembers(member) : member,
  );
}

// Not RFC 8785: keys like "10" and "9" keep the numeric order JS objects give them, as every digest pushed so far does.
function sortedMembers(object: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
