import { PREREQUISITE_MODULES } from './example-modules.js';
import { ToolCallError, type PlatformClient } from './platform-client.js';
import { ensureModule, promoteVersion, publishNextVersion, validateModule, type StepContext, type VersionView } from './steps.js';

/** Ensures a live 1.x version of each prerequisite: reuses one that is live already, else publishes and promotes. */
export async function ensurePrerequisites(ctx: StepContext, approver: { client: PlatformClient; label: string }): Promise<void> {
  for (const module of PREREQUISITE_MODULES) {
    ctx.narrator.heading(`Prerequisite ${module.name}`);
    let live: VersionView | undefined;
    try {
      const { versions } = await ctx.client.call<{ versions: VersionView[] }>('system_list_module_versions', { module_name: module.name, limit: 200 });
      live = versions.find((v) => v.promotion_state === 'live' && v.cosign_verified && v.version_string.startsWith('1.'));
    } catch (error) {
      if (!(error instanceof ToolCallError) || error.code !== 'not_found') throw error;
    }
    if (live !== undefined) {
      ctx.narrator.record({ kind: 'note', step: 'prerequisite', text: `${module.name} ${live.version_string} is live already` });
      continue;
    }
    await validateModule(ctx, module.dir, 'prerequisite');
    const { webhook_secret } = await ensureModule(ctx, module, 'prerequisite');
    const { version } = await publishNextVersion(ctx, module, webhook_secret);
    for (const to of ['staging', 'blessed', 'live']) await promoteVersion(ctx, version.id, to, approver, 'prerequisite');
  }
}
