import { Command, Help } from 'commander';

/**
 * The top-level commands, grouped by the module that defines them. Importing a group's module loads what its
 * commands need (the contracts' schemas, the event store, Sigstore…), which costs far more than Node's own
 * start-up, so a run loads only the group of the command it runs. Every other command is a placeholder with
 * the term and description root help shows: `powernode --help` loads no group at all. A test checks that the
 * placeholders read exactly as the full definitions do.
 */
interface CommandGroup {
  /** The root help line of each command the group registers, in registration order. */
  commands: ReadonlyArray<readonly [term: string, description: string]>;
  load(): Promise<(program: Command) => void>;
}

const GROUPS: readonly CommandGroup[] = [
  {
    commands: [['dev', 'start the whole platform on this machine (NATS, registry, all services); Ctrl-C stops what it started']],
    load: async () => (await import('./commands/dev-command.js')).registerDevCommand,
  },
  {
    commands: [['module', 'author, validate, build, push, sign and publish NodeModules']],
    load: async () => (await import('./commands/module-command.js')).registerModuleCommands,
  },
  {
    commands: [['digest [options] <file...>', 'print the fs-verity digest of files, exactly as `fsverity digest` does: sha256:<hex> <file>']],
    load: async () => (await import('./commands/digest-command.js')).registerDigestCommand,
  },
  {
    commands: [['verify-blob [options] [artifact]', 'verify a Sigstore bundle offline against a trusted root and a signer policy (cosign verify-blob flags)']],
    load: async () => (await import('./commands/verify-blob-command.js')).registerVerifyBlobCommand,
  },
  {
    commands: [['replay [options]', 'rebuild read models (projections) from the event store']],
    load: async () => (await import('./operator/replay-command.js')).registerReplayCommand,
  },
  {
    commands: [['health [options]', 'check that a service answers over NATS (exit 0) or not (exit 1)']],
    load: async () => (await import('./operator/health-command.js')).registerHealthCommand,
  },
  {
    commands: [['audit-sink [options]', 'write every event of the log as a CloudEvents JSON line to a file or stdout, live; resumes where the file ends']],
    load: async () => (await import('./operator/audit-sink-command.js')).registerAuditSinkCommand,
  },
  {
    commands: [['nats-credentials [options]', "write the platform's NATS users (a password file each) and nats-server's configuration with their permissions"]],
    load: async () => (await import('./operator/nats-credentials-command.js')).registerNatsCredentialsCommand,
  },
  {
    commands: [
      ['modules', 'NodeModules: list, get, create, update, delete, rotate-secret'],
      ['versions', 'NodeModuleVersions'],
      ['promote [options] <version-id>', 'promote a version (built → staging → blessed → live, or retired)'],
      ['approvals', 'promotion approvals'],
      ['approve <approval-id>', 'approve a pending promotion to live (approver role)'],
      ['reject [options] <approval-id>', 'reject a pending promotion'],
      ['templates', 'NodeTemplates'],
      ['nodes', 'nodes: create, list, get, set-channel'],
      ['instances', 'NodeInstances: provision, list, get, drift, stop, start, terminate, exec, console'],
      ['token', 'bearer tokens (admin)'],
      ['events [options]', 'read the audit log (admin)'],
      ['call [options] <tool>', 'call any MCP tool by name (see GET /api/docs for the list)'],
    ],
    load: async () => (await import('./operator/operator-commands.js')).registerOperatorCommands,
  },
];

function rootCommand(): Command {
  return new Command()
    .name('powernode')
    .description('Powernode: module supply chain and fleet reconciler')
    .showHelpAfterError()
    .exitOverride()
    .option('--url <url>', 'gateway URL (env POWERNODE_URL, default http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (env POWERNODE_TOKEN)')
    .option('--json', 'machine-readable output');
}

const commandName = (term: string): string => term.split(' ')[0]!;

/**
 * The `powernode` command tree for one command line: the group of the command `argv` (without node and the
 * script) names is fully defined, the others are placeholders. `help <command>` counts as that command.
 */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  // Root options are parsed wherever they appear, so commander itself tells which operand is the command. A
  // line it cannot parse loads nothing: the real program then reports it, with the full root help.
  let operands: string[] = [];
  try {
    operands = rootCommand()
      .configureOutput({ writeOut: () => {}, writeErr: () => {} })
      .parseOptions([...argv]).operands;
  } catch {
    operands = [];
  }
  const wanted = operands[0] === 'help' ? operands[1] : operands[0];
  return assemble((group) => group.commands.some(([term]) => commandName(term) === wanted));
}

/** Every command fully defined: what docs/cli.md and the tests of the command tree read. */
export function buildFullProgram(): Promise<Command> {
  return assemble(() => true);
}

async function assemble(defines: (group: CommandGroup) => boolean): Promise<Command> {
  const program = rootCommand();
  const placeholders = new WeakMap<Command, string>();
  const help = new Help();
  program.configureHelp({ subcommandTerm: (command) => placeholders.get(command) ?? help.subcommandTerm(command) });
  for (const group of GROUPS) {
    if (defines(group)) {
      (await group.load())(program);
      continue;
    }
    for (const [term, description] of group.commands) placeholders.set(program.command(commandName(term)).description(description), term);
  }
  return program;
}

/** Every command's help text, depth first: the content of docs/cli.md. */
export async function renderCliReference(): Promise<string> {
  const program = await buildFullProgram();
  const sections: string[] = [
    '# `powernode` command reference',
    '',
    'Generated from the CLI itself (`npx tsx apps/cli/scripts/generate-cli-docs.ts`); a test fails when it is stale.',
    'Exit codes: 0 ok, 1 refused or invalid, 2 usage error. `--json` prints machine-readable output.',
    '',
  ];
  const walk = (command: Command, path: string[]) => {
    const name = [...path, command.name()].join(' ');
    sections.push(`## ${name}`, '', '```text', command.helpInformation({ error: false }).trimEnd(), '```', '');
    for (const sub of command.commands) walk(sub, [...path, command.name()]);
  };
  walk(program, []);
  return `${sections.join('\n').trimEnd()}\n`;
}
