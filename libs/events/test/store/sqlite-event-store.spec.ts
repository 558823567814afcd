import { describeEventStoreContract } from './event-store.contract.js';
import { sqliteFixture } from './store-fixtures.js';

describeEventStoreContract('sqlite', sqliteFixture, { multiProcess: true });
