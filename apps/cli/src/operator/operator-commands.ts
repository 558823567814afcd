import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { isPowernodeError, PowernodeError } from '@powernode/contracts';
import { followEventLog } from './event-log-follow.js';
import { registerInstanceConsoleCommand } from './instance-console-command.js';
import { registerInstanceExecCommand } from './instance-exec-command.js';
import { callTool, platformTarget } from './platform-api.js';

interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

/** Prints a tool result: JSON with --json, otherwise YAML (readable, and still every field). */
function print(result: unknown, json: boolean | undefined): void {
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : stringify(result));
}

/** Runs one tool for a command; refusals print `code: message` and exit 1, as CONTRACT §4 says. */
async function run(command: Command, tool: string, args: Record<string, unknown>): Promise<void> {
  const opts = command.optsWithGlobals<GlobalOptions>();
  try {
    const result = await callTool(platformTarget(opts), tool, args);
    print(result, opts.json);
  } catch (error) {
    if (!isPowernodeError(error)) throw error;
    if (opts.json) process.stdout.write(`${JSON.stringify({ error: error.toBody() }, null, 2)}\n`);
    process.stderr.write(`powernode: ${error.code}: ${error.message}\n`);
    process.exitCode = 1;
  }
}

/** `events --follow`: the live log as JSON lines, resuming by itself when the connection drops. */
async function followEvents(command: Command, from: string | undefined): Promise<void> {
  const opts = command.optsWithGlobals<GlobalOptions>();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  try {
    if (from !== undefined && !/^\d{1,15}$/.test(from)) throw new PowernodeError('validation_failed', `--from must be a global log position, got "${from}"`);
    const onReconnect = (after: number, cause: string) => process.stderr.write(`powernode: ${cause}; reconnecting after position ${after}\n`);
    const onOpen = (after: number) => process.stderr.write(`powernode: following the event log after position ${after}\n`);
    const events = followEventLog(platformTarget(opts), { ...(from === undefined ? {} : { after: Number(from) }), signal: stop.signal, onReconnect, onOpen });
    for await (const { event } of events) process.stdout.write(`${JSON.stringify(event)}\n`);
  } catch (error) {
    if (!isPowernodeError(error)) throw error;
    process.stderr.write(`powernode: ${error.code}: ${error.message}\n`);
    process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

function pageArgs(o: { limit?: string; cursor?: string }): Record<string, unknown> {
  return { ...(o.limit ? { limit: Number(o.limit) } : {}), ...(o.cursor ? { cursor: o.cursor } : {}) };
}

/** Operator commands mirroring the MCP tools; they read POWERNODE_URL and POWERNODE_TOKEN (the program's --url, --token). */
export function registerOperatorCommands(program: Command): void {
  const modules = program.command('modules').description('NodeModules: list, get, create, update, delete, rotate-secret');
  modules
    .command('list')
    .option('--limit <n>')
    .option('--cursor <c>')
    .description('list modules')
    .action(function (this: Command, o) {
      return run(this, 'system_list_modules', pageArgs(o));
    });
  modules
    .command('get <name>')
    .description('one module')
    .action(function (this: Command, name: string) {
      return run(this, 'system_get_module', { module_name: name });
    });
  modules
    .command('create <name>')
    .description('register a module; prints the webhook secret once')
    .requiredOption('--category <category>', 'system-base | network-overlay | container-runtimes | security-hardening | userland')
    .option('--variety <variety>', 'subscription | config | instance', 'subscription')
    .requiredOption('--repo <owner/repo>', 'gitea_repo_full_name')
    .requiredOption('--identity <regexp>', 'cosign_identity_regexp (anchored)')
    .requiredOption('--issuer <regexp>', 'cosign_issuer_regexp (anchored)')
    .option('--display-name <text>')
    .option('--description <text>')
    .option('--manifest <file>', 'manifest.yaml whose spec fields seed the record')
    .option('--approval-policy <policy>', 'require_approval | auto_approve')
    .action(async function (this: Command, name: string, o) {
      return run(this, 'system_create_module', {
        name,
        category: o.category,
        variety: o.variety,
        gitea_repo_full_name: o.repo,
        cosign_identity_regexp: o.identity,
        cosign_issuer_regexp: o.issuer,
        ...(o.displayName ? { display_name: o.displayName } : {}),
        ...(o.description ? { description: o.description } : {}),
        ...(o.manifest ? { manifest_yaml: await readFile(o.manifest, 'utf8') } : {}),
        ...(o.approvalPolicy ? { approval_policy: o.approvalPolicy } : {}),
      });
    });
  modules
    .command('update <name>')
    .description('update trust policy or approval policy')
    .option('--identity <regexp>')
    .option('--issuer <regexp>')
    .option('--approval-policy <policy>')
    .action(function (this: Command, name: string, o) {
      return run(this, 'system_update_module', {
        module_name: name,
        ...(o.identity ? { cosign_identity_regexp: o.identity } : {}),
        ...(o.issuer ? { cosign_issuer_regexp: o.issuer } : {}),
        ...(o.approvalPolicy ? { approval_policy: o.approvalPolicy } : {}),
      });
    });
  modules
    .command('rotate-secret <name>')
    .description('rotate the webhook secret (printed once)')
    .action(function (this: Command, name: string) {
      return run(this, 'system_rotate_webhook_secret', { module_name: name });
    });
  modules
    .command('delete <name>')
    .description('delete a module and its versions (admin)')
    .action(function (this: Command, name: string) {
      return run(this, 'system_delete_module', { name });
    });

  const versions = program.command('versions').description('NodeModuleVersions');
  versions
    .command('list <module>')
    .option('--limit <n>')
    .option('--cursor <c>')
    .description('versions of a module, newest first')
    .action(function (this: Command, module: string, o) {
      return run(this, 'system_list_module_versions', { module_name: module, ...pageArgs(o) });
    });
  versions
    .command('get <id>')
    .description('one version')
    .action(function (this: Command, id: string) {
      return run(this, 'system_get_module_version', { id });
    });
  versions
    .command('reverify <id>')
    .description("verify a version's signature again under the module's current trust policy")
    .action(function (this: Command, id: string) {
      return run(this, 'system_reverify_module_version', { id });
    });
  program
    .command('promote <version-id>')
    .description('promote a version (built → staging → blessed → live, or retired)')
    .requiredOption('--to <state>', 'staging | blessed | live | built | retired')
    .action(function (this: Command, id: string, o) {
      return run(this, 'system_promote_module_version', { id, to: o.to });
    });
  const approvals = program.command('approvals').description('promotion approvals');
  approvals
    .command('list')
    .description('pending approvals')
    .action(function (this: Command) {
      return run(this, 'system_list_approvals', {});
    });
  program
    .command('approve <approval-id>')
    .description('approve a pending promotion to live (approver role)')
    .action(function (this: Command, id: string) {
      return run(this, 'system_approve_promotion', { approval_id: id });
    });
  program
    .command('reject <approval-id>')
    .option('--reason <text>')
    .description('reject a pending promotion')
    .action(function (this: Command, id: string, o) {
      return run(this, 'system_reject_promotion', { approval_id: id, ...(o.reason ? { reason: o.reason } : {}) });
    });

  const templates = program.command('templates').description('NodeTemplates');
  templates
    .command('list')
    .description('templates with their modules')
    .action(function (this: Command) {
      return run(this, 'system_list_templates', {});
    });
  templates
    .command('get <template>')
    .description('one template (id or name)')
    .action(function (this: Command, t: string) {
      return run(this, 'system_get_template', { template_id: t });
    });
  templates
    .command('create <name>')
    .option('--description <text>')
    .description('create a template')
    .action(function (this: Command, name: string, o) {
      return run(this, 'system_create_template', { name, ...(o.description ? { description: o.description } : {}) });
    });
  templates
    .command('assign <template> <module>')
    .description('assign a module to a template')
    .action(function (this: Command, t: string, m: string) {
      return run(this, 'system_assign_module_to_template', { template_id: t, module_name: m });
    });
  templates
    .command('unassign <template> <module>')
    .description('unassign a module (idempotent)')
    .action(function (this: Command, t: string, m: string) {
      return run(this, 'system_unassign_module_from_template', { template_id: t, module_name: m });
    });
  templates
    .command('preview <template>')
    .description('compose preview: layers, effective masks, conflicts')
    .action(function (this: Command, t: string) {
      return run(this, 'system_compose_preview', { template_id: t });
    });

  const nodes = program.command('nodes').description('nodes: create, list, get, set-channel');
  nodes
    .command('create <hostname>')
    .requiredOption('--template <template>', 'node template id or name (e.g. base)')
    .option('--channel <channel>', 'lowest promotion state this node accepts: live | blessed | staging', 'live')
    .option('--memory-mb <mb>', "memory of the node's instances where they are VMs (qemu driver; default: the provisioner's)")
    .option('--vcpus <n>', "vCPUs of the node's instances where they are VMs (qemu driver; default: the provisioner's)")
    .description('create a node')
    .action(function (this: Command, hostname: string, o) {
      const resources = {
        ...(o.memoryMb === undefined ? {} : { memory_mb: Number(o.memoryMb) }),
        ...(o.vcpus === undefined ? {} : { vcpus: Number(o.vcpus) }),
      };
      return run(this, 'system_create_node', {
        hostname,
        node_template_id: o.template,
        channel: o.channel,
        ...(Object.keys(resources).length === 0 ? {} : { resources }),
      });
    });
  nodes
    .command('list')
    .option('--limit <n>')
    .option('--cursor <c>')
    .description('list nodes')
    .action(function (this: Command, o) {
      return run(this, 'system_list_nodes', pageArgs(o));
    });
  nodes
    .command('get <node-id>')
    .description('one node')
    .action(function (this: Command, id: string) {
      return run(this, 'system_get_node', { node_id: id });
    });
  nodes
    .command('set-channel <node-id> <channel>')
    .description('change the lowest promotion state the node accepts')
    .action(function (this: Command, id: string, channel: string) {
      return run(this, 'system_set_node_channel', { node_id: id, channel });
    });

  const instances = program.command('instances').description('NodeInstances: provision, list, get, drift, stop, start, terminate, exec, console');
  instances
    .command('provision <node-id>')
    .description('provision an instance of a node')
    .action(function (this: Command, id: string) {
      return run(this, 'system_provision_instance', { node_id: id });
    });
  instances
    .command('list')
    .option('--node <node-id>')
    .option('--limit <n>')
    .option('--cursor <c>')
    .description('list instances')
    .action(function (this: Command, o) {
      return run(this, 'system_list_instances', { ...pageArgs(o), ...(o.node ? { node_id: o.node } : {}) });
    });
  instances
    .command('get <id>')
    .description('one instance with running_module_digests and its last heartbeat')
    .action(function (this: Command, id: string) {
      return run(this, 'system_get_instance', { id });
    });
  instances
    .command('drift <id>')
    .description('desired vs running modules')
    .action(function (this: Command, id: string) {
      return run(this, 'system_drift_report', { instance_id: id });
    });
  for (const [verb, tool, what] of [
    ['stop', 'system_stop_instance', 'stop an instance (its state is kept)'],
    ['start', 'system_start_instance', 'start a stopped instance'],
    ['terminate', 'system_terminate_instance', 'terminate an instance: agent stopped, sandbox and private state removed (idempotent)'],
  ] as const) {
    instances
      .command(`${verb} <id>`)
      .description(what)
      .action(function (this: Command, id: string) {
        return run(this, tool, { id });
      });
  }
  registerInstanceExecCommand(instances);
  registerInstanceConsoleCommand(instances);

  const token = program.command('token').description('bearer tokens (admin)');
  token
    .command('create')
    .requiredOption('--role <role>', 'viewer | operator | approver | admin')
    .option('--name <name>', 'a label for the token', 'cli')
    .description('issue a token (shown once)')
    .action(function (this: Command, o) {
      return run(this, 'system_create_token', { role: o.role, name: o.name });
    });
  token
    .command('list')
    .description('issued tokens')
    .action(function (this: Command) {
      return run(this, 'system_list_tokens', {});
    });
  token
    .command('revoke <id>')
    .description('revoke a token')
    .action(function (this: Command, id: string) {
      return run(this, 'system_revoke_token', { id });
    });

  program
    .command('events')
    .option('--stream <name>')
    .option('--from <position>', 'exclusive position (or version within --stream); with --follow, where to start (default: now)')
    .option('--limit <n>', 'events per page', '100')
    .option('--follow', 'go on printing each event as it is appended, one JSON line each, until interrupted')
    .description('read the audit log (admin)')
    .action(function (this: Command, o) {
      if (o.follow) return followEvents(this, o.from);
      return run(this, 'system_list_events', { ...(o.stream ? { stream: o.stream } : {}), from: Number(o.from ?? '0'), limit: Number(o.limit) });
    });

  program
    .command('call <tool>')
    .option('--args <json>', 'tool arguments as a JSON object', '{}')
    .description('call any MCP tool by name (see GET /api/docs for the list)')
    .action(function (this: Command, tool: string, o) {
      let args: Record<string, unknown>;
      try {
        args = JSON.parse(o.args) as Record<string, unknown>;
      } catch {
        process.stderr.write('powernode: --args must be a JSON object\n');
        process.exitCode = 2;
        return;
      }
      return run(this, tool, args);
    });
}
