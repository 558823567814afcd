import { CATALOG_RPCS, type Actor, type ModuleVersionBuiltData, type ModuleVersionRejectedData, type ModuleVersionReverifiedData } from '@powernode/contracts';
import type { RpcClient } from '@powernode/events';
import type { TrustPolicy } from './signature-judgement.js';

/** The module's trust policy as the catalog hands it to ingest. */
export interface ModuleTrustPolicy extends TrustPolicy {
  module_id: string;
  module_name: string;
  gitea_repo_full_name: string;
}

/** A version as `system_list_module_versions` shows it (the fields ingest reads). */
export interface CatalogVersionView {
  id: string;
  module_name: string;
  version_string: string;
  promotion_state: string;
  composefs_digest: string | null;
  oci_ref: string | null;
  oci_digest: string | null;
  cosign_verified: boolean;
  signer_identity: string | null;
  signer_issuer: string | null;
  rejection_reason: string | null;
}

/**
 * The catalog's commands and queries ingest uses, over NATS request/reply. The catalog owns the version
 * aggregate: ingest never appends version events itself.
 */
export class CatalogCommands {
  constructor(private readonly rpc: RpcClient) {}

  /** The module's current trust policy; `not_found` when the module was deleted. */
  trustPolicy(module_id: string, correlation_id: string): Promise<ModuleTrustPolicy> {
    return this.rpc.call(CATALOG_RPCS.trustPolicy, { module_id }, { correlation_id });
  }

  /** Records a build (idempotent for the same module, tag, digest and verdict). */
  recordBuild(data: ModuleVersionBuiltData, causation_id: string, correlation_id: string): Promise<{ version: CatalogVersionView }> {
    return this.rpc.call(CATALOG_RPCS.recordBuild, { data, causation_id }, { correlation_id });
  }

  /** Records a rejected build. */
  recordRejection(data: ModuleVersionRejectedData, causation_id: string, correlation_id: string): Promise<{ version: CatalogVersionView }> {
    return this.rpc.call(CATALOG_RPCS.recordRejection, { data, causation_id }, { correlation_id });
  }

  /** Records a re-verification verdict (a no-op when unchanged). */
  recordReverification(data: ModuleVersionReverifiedData, correlation_id: string): Promise<{ version: CatalogVersionView; changed: boolean }> {
    return this.rpc.call(CATALOG_RPCS.recordReverification, { data, causation_id: null }, { correlation_id });
  }

  getVersion(id: string, actor: Actor, correlation_id: string): Promise<{ version: CatalogVersionView }> {
    return this.rpc.call(CATALOG_RPCS.getModuleVersion, { actor, input: { id } }, { correlation_id });
  }

  getModule(module_name: string, actor: Actor, correlation_id: string): Promise<{ module: { id: string; name: string } }> {
    return this.rpc.call(CATALOG_RPCS.getModule, { actor, input: { module_name } }, { correlation_id });
  }
}
