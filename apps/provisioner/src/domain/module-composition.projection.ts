import { entryOf, setEntry } from '@powernode/events';
import { provisionerProjection } from './provisioner-projection.js';

/*
 * What an agent needs to compose a module beyond the chosen version: the module record's glob lists (the
 * platform record is authoritative after registration, so they come from the record's events, not from each
 * build's manifest) and the init commands of every version's own manifest. Updated in place; a stored row is
 * replaced, never changed, so what a caller holds stays as it was.
 */

/** The glob lists of a module record that decide its effective mask among its neighbours. */
export interface ComposedModuleSpec {
  module_id: string;
  name: string;
  mask: string[];
  protected_spec: string[];
  provides: string[];
}

/** A version's `init` commands as its manifest writes them (one string each; the agent splits them into argv). */
export interface VersionInit {
  start: string | null;
  stop: string | null;
  restart: string | null;
}

export interface ModuleCompositionModel {
  /** module id → its record's glob lists */
  modules: Record<string, ComposedModuleSpec>;
  /** version id → init commands of the version's manifest */
  init: Record<string, VersionInit>;
}

export const NO_INIT: VersionInit = { start: null, stop: null, restart: null };

/** Module specs and version init commands, folded from catalog events. */
export const moduleCompositionProjection = provisionerProjection<ModuleCompositionModel>({
  name: 'provisioner-module-composition',
  version: 1,
  initialState: () => ({ modules: {}, init: {} }),
  handlers: {
    ModuleRegistered(state, event) {
      const { module_id, name, spec } = event.data;
      setEntry(state.modules, module_id, { module_id, name, mask: [...spec.mask], protected_spec: [...spec.protected_spec], provides: [...spec.provides] });
      return state;
    },
    ModuleSpecSeeded(state, event) {
      const module = entryOf(state.modules, event.data.module_id);
      if (module === undefined) return state;
      const { spec } = event.data;
      setEntry(state.modules, module.module_id, { ...module, mask: [...spec.mask], protected_spec: [...spec.protected_spec], provides: [...spec.provides] });
      return state;
    },
    ModuleUpdated(state, event) {
      const module = entryOf(state.modules, event.data.module_id);
      if (module === undefined) return state;
      const c = event.data.changes;
      setEntry(state.modules, module.module_id, {
        ...module,
        ...(c.mask !== undefined ? { mask: [...c.mask] } : {}),
        ...(c.protected_spec !== undefined ? { protected_spec: [...c.protected_spec] } : {}),
        ...(c.provides !== undefined ? { provides: [...c.provides] } : {}),
      });
      return state;
    },
    ModuleDeleted(state, event) {
      delete state.modules[event.data.module_id];
      for (const versionId of event.data.version_ids) delete state.init[versionId];
      return state;
    },
    ModuleVersionBuilt(state, event) {
      setEntry(state.init, event.data.version_id, manifestInit(event.data.manifest));
      return state;
    },
    ModuleVersionRejected(state, event) {
      delete state.init[event.data.version_id];
      return state;
    },
  },
});

/** `init.{start,stop,restart}` of a manifest document; tolerant, because old events must still fold. */
function manifestInit(manifest: Readonly<Record<string, unknown>>): VersionInit {
  const init = manifest['init'];
  if (typeof init !== 'object' || init === null) return { ...NO_INIT };
  const command = (name: keyof VersionInit): string | null => {
    const value = (init as Record<string, unknown>)[name];
    return typeof value === 'string' && value.trim() !== '' ? value : null;
  };
  return { start: command('start'), stop: command('stop'), restart: command('restart') };
}
