import { z } from 'zod';
import { lazySchema } from './lazy-schema.js';

const build = () => z.object({ name: z.string().min(1), tags: z.array(z.string()).optional() });

describe('lazySchema', () => {
  it('builds the schema on first use, once', () => {
    let builds = 0;
    const schema = lazySchema(() => {
      builds += 1;
      return build();
    });
    expect(builds).toBe(0);
    expect(schema.parse({ name: 'a' })).toEqual({ name: 'a' });
    expect(schema.safeParse({ name: '' }).success).toBe(false);
    expect(builds).toBe(1);
  });

  it('behaves as the schema it stands for inside other schemas and for instanceof', () => {
    const lazy = lazySchema(build);
    const outer = z.object({ inner: lazy, list: z.array(lazy) });
    expect(outer.parse({ inner: { name: 'x' }, list: [{ name: 'y', tags: ['t'] }] })).toEqual({ inner: { name: 'x' }, list: [{ name: 'y', tags: ['t'] }] });
    expect(outer.safeParse({ inner: { name: 1 }, list: [] }).error?.issues[0]?.path).toEqual(['inner', 'name']);
    expect(lazy).toBeInstanceOf(z.ZodObject);
    expect(Object.keys(lazy.shape)).toEqual(['name', 'tags']);
    expect(lazy.extend({ n: z.number() }).parse({ name: 'a', n: 1 })).toEqual({ name: 'a', n: 1 });
  });

  it('gives the JSON Schema of the schema it stands for', () => {
    const eager = z.preprocess((v) => v, z.object({ inner: build() }));
    const lazy = lazySchema(() => z.preprocess((v) => v, z.object({ inner: lazySchema(build) })));
    expect(z.toJSONSchema(lazy, { io: 'input', unrepresentable: 'any' })).toEqual(z.toJSONSchema(eager, { io: 'input', unrepresentable: 'any' }));
  });
});
