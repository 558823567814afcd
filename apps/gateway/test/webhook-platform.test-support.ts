import path from 'node:path';
import { openEventStore, powernodeEventCatalogue, type EventStore } from '@powernode/events';
import { startPlatform, type TestPlatform } from '@powernode/testing';
import { restClient } from './platform-client.js';

/** A catalog and gateway with one module registered for `repo`, and the event store they write, read directly. */
export interface WebhookPlatform {
  platform: TestPlatform;
  store: EventStore;
  /** The module's webhook secret, as registration showed it. */
  secret: string;
  stop(): Promise<void>;
}

export async function startWebhookPlatform(moduleName: string, repo: string): Promise<WebhookPlatform> {
  const platform = await startPlatform({ services: ['catalog', 'gateway'] });
  const store = await openEventStore(`sqlite:${path.join(platform.dataDir, 'events.sqlite')}`, powernodeEventCatalogue());
  const created = await restClient(platform.url, platform.adminToken)('POST', '/modules', {
    name: moduleName,
    category: 'userland',
    variety: 'subscription',
    gitea_repo_full_name: repo,
    cosign_identity_regexp: 'x',
    cosign_issuer_regexp: 'y',
  });
  return {
    platform,
    store,
    secret: created.body.webhook_secret,
    async stop() {
      await store.close();
      await platform.stop();
    },
  };
}
