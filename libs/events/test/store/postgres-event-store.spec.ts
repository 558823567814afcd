import { describeEventStoreContract } from './event-store.contract.js';
import { postgresFixture } from './store-fixtures.js';

describeEventStoreContract('postgres', postgresFixture, { multiProcess: true });
