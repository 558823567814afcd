import { PowernodeError, type CatalogEventOf } from '@powernode/contracts';
import { assertNever, entryOf, setEntry, type Decider } from '@powernode/events';

/*
 * Uniqueness of module names and repositories across the catalog. Module streams are keyed by a module id (a
 * uuid), so a name can be registered again after its module is deleted; this one stream (`module-registry`)
 * is where a name or a repository is claimed and released, under optimistic concurrency. A handler claims the
 * identity here first, then appends ModuleRegistered to the module's own stream; on delete it releases.
 */

export type ModuleRegistryEvent = CatalogEventOf<'ModuleIdentityClaimed'> | CatalogEventOf<'ModuleIdentityReleased'>;

export type ModuleRegistryCommand =
  | { type: 'ClaimModuleIdentity'; module_id: string; name: string; gitea_repo_full_name: string; now: string }
  | { type: 'ReleaseModuleIdentity'; module_id: string; now: string };

export interface ModuleRegistryState {
  /** module name → module id */
  names: Record<string, string>;
  /** lower-cased repository full name → module id (forges treat repository names case-insensitively) */
  repositories: Record<string, string>;
  /** module id → what it holds, for release */
  holders: Record<string, { name: string; gitea_repo_full_name: string }>;
}

const repositoryKey = (fullName: string): string => fullName.toLowerCase();

/** Who holds a module name, if anyone. */
export function moduleIdHoldingName(state: ModuleRegistryState, name: string): string | null {
  return Object.prototype.hasOwnProperty.call(state.names, name) ? state.names[name]! : null;
}

export const moduleRegistryDecider: Decider<ModuleRegistryCommand, ModuleRegistryState, ModuleRegistryEvent> = {
  initialState: () => ({ names: {}, repositories: {}, holders: {} }),

  decide(command, state) {
    switch (command.type) {
      case 'ClaimModuleIdentity': {
        const nameHolder = moduleIdHoldingName(state, command.name);
        const repoKey = repositoryKey(command.gitea_repo_full_name);
        const repoHolder = Object.prototype.hasOwnProperty.call(state.repositories, repoKey) ? state.repositories[repoKey]! : null;
        if (nameHolder === command.module_id && repoHolder === command.module_id) return [];
        if (nameHolder !== null) {
          throw new PowernodeError('already_exists', `a module named "${command.name}" already exists: pick another name, or delete that module first`, {
            details: { field: 'name', name: command.name, module_id: nameHolder, rule: 'module_name_unique' },
          });
        }
        if (repoHolder !== null) {
          throw new PowernodeError(
            'already_exists',
            `repository "${command.gitea_repo_full_name}" is already registered to another module: one repository publishes one module`,
            {
              details: { field: 'gitea_repo_full_name', gitea_repo_full_name: command.gitea_repo_full_name, module_id: repoHolder, rule: 'repository_unique' },
            },
          );
        }
        if (Object.prototype.hasOwnProperty.call(state.holders, command.module_id)) {
          throw new PowernodeError('already_exists', `module id ${command.module_id} already holds a name: a module id is used once`, {
            details: { field: 'module_id', module_id: command.module_id, rule: 'module_id_unique' },
          });
        }
        return [
          {
            type: 'ModuleIdentityClaimed',
            data: { module_id: command.module_id, name: command.name, gitea_repo_full_name: command.gitea_repo_full_name, claimed_at: command.now },
          },
        ];
      }
      case 'ReleaseModuleIdentity': {
        const held = state.holders[command.module_id];
        if (held === undefined) return [];
        return [
          {
            type: 'ModuleIdentityReleased',
            data: { module_id: command.module_id, name: held.name, gitea_repo_full_name: held.gitea_repo_full_name, released_at: command.now },
          },
        ];
      }
      default:
        return assertNever(command);
    }
  },

  // The stream gets one event per registered module, so the fold updates its own state in place (O(1) per
  // event) rather than copying the name maps each time; the state belongs to the fold that created it.
  evolve(state, event) {
    switch (event.type) {
      case 'ModuleIdentityClaimed': {
        const { module_id, name, gitea_repo_full_name } = event.data;
        setEntry(state.names, name, module_id);
        setEntry(state.repositories, repositoryKey(gitea_repo_full_name), module_id);
        setEntry(state.holders, module_id, { name, gitea_repo_full_name });
        return state;
      }
      case 'ModuleIdentityReleased': {
        const { module_id, name, gitea_repo_full_name } = event.data;
        if (entryOf(state.names, name) === module_id) delete state.names[name];
        if (entryOf(state.repositories, repositoryKey(gitea_repo_full_name)) === module_id) delete state.repositories[repositoryKey(gitea_repo_full_name)];
        delete state.holders[module_id];
        return state;
      }
      default:
        return assertNever(event);
    }
  },
};
