import { Module, type DynamicModule } from '@nestjs/common';
import { CATALOG_LOGGER, CATALOG_READ_MODELS, CATALOG_SERVICE, CatalogController } from './catalog.controller.js';
import type { CatalogService } from './catalog-service.js';
import type { CatalogReadModels } from './read-models.js';
import type { Logger } from '@powernode/runtime';

/** The catalog microservice: its controller over already-started read models and service. */
@Module({})
export class CatalogModule {
  static register(deps: { service: CatalogService; readModels: CatalogReadModels; logger: Logger }): DynamicModule {
    return {
      module: CatalogModule,
      controllers: [CatalogController],
      providers: [
        { provide: CATALOG_SERVICE, useValue: deps.service },
        { provide: CATALOG_READ_MODELS, useValue: deps.readModels },
        { provide: CATALOG_LOGGER, useValue: deps.logger },
      ],
    };
  }
}
