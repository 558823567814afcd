import { describeEventStoreContract } from './event-store.contract.js';
import { kurrentFixture } from './store-fixtures.js';

const url = process.env.KURRENTDB_URL;

// KurrentDB's $all positions are commit positions (gaps allowed) and it does not index event ids across streams.
describeEventStoreContract('kurrentdb', () => kurrentFixture(url!), {
  ...(url === undefined || url === '' ? { skipReason: 'KURRENTDB_URL not set' } : {}),
  gaplessPositions: false,
  uniqueIdsAcrossStreams: false,
  multiProcess: true,
});
