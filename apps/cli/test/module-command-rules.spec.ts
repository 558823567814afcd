// The pure rules behind the supply-chain commands: signing mode choice, webhook signing and refusal text,
// OIDC token request URL, loopback registries, template filling.
import {
  resolveSigningMode,
  DEFAULT_DEV_IDENTITY,
  DEFAULT_DEV_ISSUER,
  PUBLIC_FULCIO_URL,
  PUBLIC_REKOR_URL,
  type SigningOptions,
} from '../src/commands/module-signing.js';
import { UsageError } from '../src/commands/module-command-action.js';
import { moduleWebhookPayload, refusalReason, webhookSignature } from '../src/commands/module-webhook-delivery.js';
import { tokenRequestUrl } from '../src/commands/module-oidc-token.js';
import { isLoopbackRegistry } from '@powernode/oci';
import { displayNameOf, fillTemplateText } from '../src/commands/module-template-files.js';
import { versionFromTag } from '../src/commands/module-push-command.js';
import { exactPattern } from '../src/commands/verify-blob-command.js';

const CI = { ACTIONS_ID_TOKEN_REQUEST_URL: 'https://ci.example/token?x=1', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req' };
const defaults: SigningOptions = {
  devIdentity: DEFAULT_DEV_IDENTITY,
  devIssuer: DEFAULT_DEV_ISSUER,
  dataDir: './.data',
  fulcioUrl: PUBLIC_FULCIO_URL,
  rekorUrl: PUBLIC_REKOR_URL,
  tlogUpload: true,
};
const fromCli =
  (...cli: string[]) =>
  (option: keyof SigningOptions) =>
    cli.includes(option) ? 'cli' : 'env';

describe('resolveSigningMode', () => {
  test.each<[string, string, SigningOptions, string[], NodeJS.ProcessEnv]>([
    ['--dev', 'dev', { dev: true }, ['dev'], {}],
    ['--key', 'key', { key: 'k.pem' }, ['key'], {}],
    ['--identity-token', 'keyless', { identityToken: 'a.b.c' }, ['identityToken'], {}],
    ['SIGSTORE_ID_TOKEN', 'keyless', {}, [], { SIGSTORE_ID_TOKEN: 'a.b.c' }],
    ['nothing, in CI', 'keyless', {}, [], CI],
    ['--dev in CI', 'dev', { dev: true }, ['dev'], CI],
    ['--dev on the command line over POWERNODE_SIGNING_KEY', 'dev', { dev: true, key: 'k.pem' }, ['dev'], {}],
    ['--keyless with --identity-token', 'keyless', { keyless: true, identityToken: 'a.b.c' }, ['keyless', 'identityToken'], {}],
  ])('%s → %s', (_label, expected, options, cli, env) => {
    expect(resolveSigningMode({ ...defaults, ...options }, fromCli(...cli), env).type).toBe(expected);
  });

  test.each<[string, SigningOptions, string[], NodeJS.ProcessEnv, RegExp]>([
    ['nothing outside CI', {}, [], {}, /choose how to sign/],
    ['--dev and --key', { dev: true, key: 'k.pem' }, ['dev', 'key'], {}, /not --dev and --key/],
    ['two modes from the environment', { dev: true, key: 'k.pem' }, [], {}, /set through environment variables/],
    ['keyless without Rekor or a TSA', { identityToken: 'a.b.c', tlogUpload: false }, ['identityToken'], {}, /transparency log or a timestamp authority/],
  ])('%s is a usage error', (_label, options, cli, env, message) => {
    const attempt = () => resolveSigningMode({ ...defaults, ...options }, fromCli(...cli), env);
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(message);
  });

  test('--keyless outside CI without a token is refused (not a usage error)', () => {
    expect(() => resolveSigningMode({ ...defaults, keyless: true }, fromCli('keyless'), {})).toThrow(/needs an OIDC identity token/);
  });

  test('keyless keeps the CI endpoint and the URLs; --no-tlog-upload drops Rekor', () => {
    expect(resolveSigningMode({ ...defaults, tsaUrl: 'https://tsa.example', tlogUpload: false }, fromCli(), CI)).toEqual({
      type: 'keyless',
      token: { source: 'ci', endpoint: { url: CI.ACTIONS_ID_TOKEN_REQUEST_URL, bearer: 'req' } },
      fulcioUrl: PUBLIC_FULCIO_URL,
      rekorUrl: undefined,
      tsaUrl: 'https://tsa.example',
    });
  });
});

describe('webhook signing', () => {
  test('X-Gitea-Signature is the hex HMAC-SHA256 of the raw body (RFC 4231-style known answer)', () => {
    expect(webhookSignature('key', Buffer.from('The quick brown fox jumps over the lazy dog'))).toBe(
      'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    );
  });

  test('the payload names the tag as refs/tags/<tag>, fields in contract order', () => {
    expect(JSON.stringify(moduleWebhookPayload('acme/redis', 'v0.1.0', 'r.example/acme/redis:v0.1.0@sha256:ab'))).toBe(
      '{"repository":{"full_name":"acme/redis"},"ref":"refs/tags/v0.1.0","artifact":"r.example/acme/redis:v0.1.0@sha256:ab"}',
    );
  });

  test.each([
    [401, 'application/problem+json', '{"detail":"bad signature","code":"unauthenticated"}', 'unauthenticated: bad signature'],
    [400, 'application/json', '{"message":"ref is not a tag"}', 'ref is not a tag'],
    [404, 'text/html', '<h1>Not Found</h1>', '<h1>Not Found</h1>'],
    [403, 'application/json', '', 'HTTP 403'],
    [400, 'application/json', 'not json', 'not json'],
  ])('a %i answer gives the reason a person can act on', (status, contentType, text, reason) => {
    expect(refusalReason(status, contentType, text)).toBe(reason);
  });
});

describe('small rules', () => {
  test('the OIDC request URL keeps the endpoint query and adds audience', () => {
    expect(tokenRequestUrl('https://ci.example/_apis/token?api-version=2.0', 'sigstore')).toBe(
      'https://ci.example/_apis/token?api-version=2.0&audience=sigstore',
    );
    expect(tokenRequestUrl('https://ci.example/token', 'sigstore')).toBe('https://ci.example/token?audience=sigstore');
  });

  test.each([
    ['127.0.0.1:5000', true],
    ['localhost:5000', true],
    ['[::1]:5000', true],
    ['127.10.0.3', true],
    ['registry.example.com', false],
    ['127.0.0.1.example.com:5000', false],
    ['10.0.0.1:5000', false],
  ])('%s is loopback: %s', (registry, loopback) => {
    expect(isLoopbackRegistry(registry)).toBe(loopback);
  });

  test('versions come from semver tags only', () => {
    expect(versionFromTag('v1.2.3')).toBe('1.2.3');
    expect(versionFromTag('1.2.3-rc.1')).toBe('1.2.3-rc.1');
    expect(versionFromTag('latest')).toBeUndefined();
    expect(versionFromTag(undefined)).toBeUndefined();
  });

  test('template placeholders are filled; the display name is a quoted YAML string', () => {
    expect(displayNameOf('my-redis')).toBe('My Redis');
    expect(
      fillTemplateText('name: __MODULE_NAME__\ndisplay_name: __DISPLAY_NAME__\nfile_spec: ["/etc/__MODULE_NAME__/**"]', {
        name: 'x-y',
        displayName: 'Say "hi": #1',
      }),
    ).toBe('name: x-y\ndisplay_name: "Say \\"hi\\": #1"\nfile_spec: ["/etc/x-y/**"]');
  });

  test('an exact identity becomes a pattern matching only itself', () => {
    const pattern = new RegExp(`^(?:${exactPattern('https://a.b/c?d=(e)')})$`);
    expect(pattern.test('https://a.b/c?d=(e)')).toBe(true);
    expect(pattern.test('https://aXb/c?d=(e)')).toBe(false);
  });
});
