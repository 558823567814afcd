import { foldEvents, type StoredEventLike } from '@powernode/events';
import { artifactCacheRoots } from './artifact-cache-roots.js';
import { desiredStateProjection } from './desired-state.projection.js';
import { instancesProjection, listInstances } from './instances.projection.js';
import {
  assigned,
  composefsOf,
  heartbeatReceived,
  moduleRegistered,
  nodeCreated,
  promotedTo,
  provisionRequested,
  statusChanged,
  T1,
  templateCreated,
  terminated,
  versionBuilt,
} from './provisioner-fixtures.test-support.js';

const ociOf = (name: string, version: string): string => (versionBuilt(name, version).data as { oci_digest: string }).oci_digest;

function roots(events: StoredEventLike[]): Set<string> {
  const instances = listInstances(foldEvents(instancesProjection, events), { include_terminated: true });
  return artifactCacheRoots(foldEvents(desiredStateProjection, events), instances);
}

const catalog: StoredEventLike[] = [
  templateCreated('base'),
  moduleRegistered('my-redis'),
  versionBuilt('my-redis', '0.1.0'),
  ...promotedTo('my-redis', '0.1.0', 'live'),
  versionBuilt('my-redis', '0.2.0'),
  assigned('my-redis'),
  nodeCreated(),
  provisionRequested(),
  statusChanged('pending', 'running'),
];

describe('artifact cache roots', () => {
  it('keeps the desired version and, through its composefs digest, the version the agent still runs', () => {
    const events = [
      ...catalog,
      ...promotedTo('my-redis', '0.2.0', 'live'),
      heartbeatReceived(T1, { running_module_digests: { 'my-redis': composefsOf('my-redis', '0.1.0') } }),
    ];
    expect(roots(events)).toEqual(
      new Set([ociOf('my-redis', '0.2.0'), composefsOf('my-redis', '0.2.0'), ociOf('my-redis', '0.1.0'), composefsOf('my-redis', '0.1.0')]),
    );
  });

  it('keeps nothing for a terminated instance', () => {
    expect(roots([...catalog, terminated('running')])).toEqual(new Set());
  });

  it('keeps nothing of a version that is neither desired nor running', () => {
    expect(roots(catalog).has(ociOf('my-redis', '0.2.0'))).toBe(false);
    expect(roots(catalog).has(ociOf('my-redis', '0.1.0'))).toBe(true);
  });
});
