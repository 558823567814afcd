import { describeEventStoreContract } from './event-store.contract.js';
import { memoryFixture } from './store-fixtures.js';

describeEventStoreContract('memory', memoryFixture);
