import { parseAuthChallenge } from './auth-challenge.js';
import { nextLink } from './link-header.js';

describe('parseAuthChallenge', () => {
  test('reads a bearer challenge whose scope holds commas', () => {
    expect(parseAuthChallenge('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"')).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.example.com/token',
      service: 'registry.example.com',
      scope: 'repository:a/b:pull,push',
    });
  });

  test('reads basic, is case-insensitive on the scheme, and flags what it cannot use', () => {
    expect(parseAuthChallenge('basic realm="x"')).toEqual({ scheme: 'basic', realm: 'x' });
    expect(parseAuthChallenge('Bearer service="no-realm"')).toEqual({ scheme: 'unknown', raw: 'Bearer service="no-realm"' });
    expect(parseAuthChallenge(null)).toEqual({ scheme: 'unknown', raw: '' });
    expect(parseAuthChallenge('Negotiate abc')).toEqual({ scheme: 'unknown', raw: 'Negotiate abc' });
  });
});

describe('nextLink', () => {
  test('finds rel="next" among several links', () => {
    expect(nextLink('</v2/a/tags/list?last=b&n=2>; rel="next"')).toBe('/v2/a/tags/list?last=b&n=2');
    expect(nextLink('<https://x/prev>; rel="prev", <https://x/next?a=1,2>; rel=next')).toBe('https://x/next?a=1,2');
  });

  test('is undefined without a next link', () => {
    expect(nextLink(null)).toBeUndefined();
    expect(nextLink('<https://x/prev>; rel="prev"')).toBeUndefined();
  });
});
