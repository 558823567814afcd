/**
 * A schema built on first use, with the type and behaviour of the one `build` returns. Building a zod schema
 * costs far more than declaring it (each instance gets dozens of methods), and every process that loads the
 * contracts pays for all of them while it uses a handful: a service, a CLI command, each test file.
 *
 * For schemas without registry metadata only (`.describe`, `.meta`): the registry holds the built instance, so
 * a lookup by this stand-in would miss it.
 */
export function lazySchema<T extends object>(build: () => T): T {
  let built: T | undefined;
  const schema = (): T => (built ??= build());
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(schema(), key),
    set: (_, key, value) => Reflect.set(schema(), key, value),
    has: (_, key) => Reflect.has(schema(), key),
    ownKeys: () => Reflect.ownKeys(schema()),
    // zod defines `_zod` non-configurable; a proxy may only report that of a property its own target has.
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(schema(), key);
      return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
    },
    defineProperty: (_, key, descriptor) => Reflect.defineProperty(schema(), key, descriptor),
    deleteProperty: (_, key) => Reflect.deleteProperty(schema(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(schema()),
  });
}
