/*
 * What the API answers, as the UI reads it. Catalog views are the read models' own types (type-only imports:
 * nothing of them reaches the bundle); the provisioner's answers are written out here.
 */
import type { ApprovalView, ModuleListItem, ModuleVersionView, ModuleView, TemplateComposePreview, TemplateView } from '@powernode/catalog-views';
import type { Permission } from '../domain/promotion-actions.js';

export type { ApprovalView, ModuleListItem, ModuleVersionView, ModuleView, TemplateComposePreview, TemplateView };

export interface Whoami {
  id: string;
  name: string;
  role: 'viewer' | 'operator' | 'approver' | 'admin';
  permissions: Permission[];
}

export interface NodeView {
  id: string;
  hostname: string;
  node_template_id: string;
  channel: 'live' | 'blessed' | 'staging';
  instance_ids?: string[];
  created_at?: string;
}

export interface InstanceView {
  id: string;
  node_id: string;
  status: string;
  running_module_digests: Record<string, string>;
  services?: { module?: string; unit?: string; active_state?: string; sub_state?: string; [field: string]: unknown }[];
  last_heartbeat_at: string | null;
  heartbeat_stale?: boolean;
  errors: { module?: string; code?: string; message: string }[];
  enrolled?: boolean;
  [field: string]: unknown;
}

export interface DriftReport {
  drift: boolean;
  missing: Record<string, string>;
  extra: Record<string, string>;
  mismatched: Record<string, { want: string; have: string }>;
  unresolved: unknown[];
  [field: string]: unknown;
}

/** A stored event as the audit read and the live stream give it. */
export interface LoggedEvent {
  id: string;
  stream: string;
  type: string;
  version: number;
  position: number;
  occurred_at: string;
  actor: string;
  correlation_id: string;
  data: any;
  data_withheld?: true;
}

/** RFC 9457 problem details with our stable code. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  issues?: { path: string; message: string }[];
  [extension: string]: unknown;
}

type Page<K extends string, T> = { [key in K]: T[] } & { next_cursor: string | null };

/**
 * What each operation the UI calls answers. The OpenAPI document types inputs (api-operations.generated.ts);
 * answers are the read models' own types.
 */
export interface ApiResults {
  system_whoami: Whoami;
  system_list_modules: Page<'modules', ModuleListItem>;
  system_get_module: { module: ModuleView };
  system_create_module: { module: ModuleView; webhook_secret: string };
  system_update_module: { module: ModuleView };
  system_list_module_versions: Page<'versions', ModuleVersionView>;
  system_promote_module_version: { version?: ModuleVersionView; approval?: ApprovalView };
  system_list_approvals: Page<'approvals', ApprovalView>;
  system_approve_promotion: { approval: ApprovalView; version?: ModuleVersionView };
  system_reject_promotion: { approval: ApprovalView };
  system_list_templates: Page<'templates', TemplateView>;
  system_get_template: { template: TemplateView };
  system_compose_preview: { template: { id: string; name: string }; preview: TemplateComposePreview };
  system_assign_module_to_template: { template: TemplateView };
  system_unassign_module_from_template: { template: TemplateView };
  system_list_nodes: Page<'nodes', NodeView>;
  system_create_node: { node: NodeView };
  system_list_instances: Page<'instances', InstanceView>;
  system_get_instance: { instance: InstanceView };
  system_provision_instance: { instance: InstanceView };
  system_terminate_instance: { instance: InstanceView };
  system_drift_report: DriftReport;
  system_list_events: { events: LoggedEvent[]; next_from: number | null; head: number };
}
