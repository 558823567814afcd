import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '@powernode/runtime';
import { INGEST_LOGGER, INGEST_SERVICE, IngestController } from './ingest.controller.js';
import type { ModuleBuildIngest } from './module-build-ingest.js';

/** The ingest microservice: its controller over an already-built ingest. */
@Module({})
export class IngestModule {
  static register(deps: { ingest: ModuleBuildIngest; logger: Logger }): DynamicModule {
    return {
      module: IngestModule,
      controllers: [IngestController],
      providers: [
        { provide: INGEST_SERVICE, useValue: deps.ingest },
        { provide: INGEST_LOGGER, useValue: deps.logger },
      ],
    };
  }
}
