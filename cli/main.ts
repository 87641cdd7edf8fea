import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ImageApi } from './api.js';
import { VERBS, type Context, type Verb } from './commands.js';
import { bashCompletion } from './completion.js';
import { CliError, EXIT, usageError } from './errors.js';
import { keystoneSession, passwordAuthFrom } from './keystone.js';

/**
 * `skyglass`: glance's verbs and flags against a Skyglass endpoint, plus what glanceclient
 * cannot do — parallel, resumable uploads through the uploads extension and verified, resumable
 * downloads. Parse argv, call the API through ImageApi, render like glanceclient.
 */
declare const SKYGLASS_VERSION: string | undefined;
const VERSION = typeof SKYGLASS_VERSION === 'string' ? SKYGLASS_VERSION : 'dev';

const GLOBAL = {
  'os-image-url': { type: 'string', help: 'Image service endpoint (default: env[OS_IMAGE_URL])', arg: '<URL>' },
  'os-auth-token': { type: 'string', help: 'Token to send as X-Auth-Token (default: env[OS_AUTH_TOKEN])', arg: '<TOKEN>' },
  // Keystone password auth, as glance's: used when there is no token and an auth URL is given.
  'os-auth-url': { type: 'string', help: 'Keystone URL for password auth (default: env[OS_AUTH_URL])', arg: '<AUTH_URL>' },
  'os-username': { type: 'string', help: 'Keystone user name (default: env[OS_USERNAME])', arg: '<NAME>' },
  'os-password': { type: 'string', help: 'Keystone password (default: env[OS_PASSWORD])', arg: '<PASSWORD>' },
  'os-project-name': { type: 'string', help: 'Project to scope the token to (default: env[OS_PROJECT_NAME])', arg: '<NAME>' },
  'os-project-id': { type: 'string', help: 'Project id, instead of its name (default: env[OS_PROJECT_ID])', arg: '<ID>' },
  'os-user-domain-name': { type: 'string', help: "The user's domain (default: env[OS_USER_DOMAIN_NAME], else Default)", arg: '<NAME>' },
  'os-project-domain-name': { type: 'string', help: "The project's domain (default: env[OS_PROJECT_DOMAIN_NAME], else Default)", arg: '<NAME>' },
  'os-region-name': { type: 'string', help: 'Region of the image endpoint in the catalog (default: env[OS_REGION_NAME])', arg: '<REGION>' },
  'os-interface': { type: 'string', help: 'Catalog interface: public, internal or admin (default: env[OS_INTERFACE], else public)', arg: '<INTERFACE>' },
  json: { type: 'boolean', help: 'Print JSON instead of tables' },
  debug: { type: 'boolean', help: 'Print each step (parts stored, retries, bytes received) to stderr' },
  help: { type: 'boolean', short: 'h', help: 'Show help' },
} as const;

const LOCAL_VERBS: Verb[] = [
  {
    name: 'token',
    summary: 'Print a token for the local runtime (npm start), signed with its dev key in DATA_DIR',
    args: [],
    options: {
      project: { type: 'string', help: 'Project id the token is scoped to (required)', arg: '<PROJECT>' },
      user: { type: 'string', help: 'User id', arg: '<USER>' },
      roles: { type: 'string', help: 'Comma-separated roles (default member,reader)', arg: '<ROLES>' },
      ttl: { type: 'string', help: 'Lifetime in seconds (default 12 h)', arg: '<SECONDS>' },
    },
    async run(ctx, values) {
      if (typeof values.project !== 'string') throw usageError('the following arguments are required: --project');
      const { localToken, TokenRefusal } = await import('../infra/local/local-token.js');
      try {
        const { token, note } = await localToken({
          project: values.project,
          user: values.user as string | undefined,
          roles: String(values.roles ?? 'member,reader').split(',').map((r) => r.trim()).filter(Boolean),
          ttl: values.ttl ? Number(values.ttl) : undefined,
          command: 'skyglass token ...',
        });
        if (note) ctx.say(note);
        ctx.out(token);
      } catch (error) {
        if (error instanceof TokenRefusal) throw new CliError(error.message, EXIT.usage);
        throw error;
      }
    },
  },
  {
    name: 'completion',
    summary: 'Print the bash completion script (source <(skyglass completion bash))',
    args: ['[bash]'],
    options: {},
    async run(ctx) {
      ctx.out(bashCompletion([...VERBS, ...LOCAL_VERBS]));
    },
  },
];

export const ALL_VERBS = (): Verb[] => [...VERBS, ...LOCAL_VERBS];

function optionList(options: Record<string, { type: string; help: string; arg?: string; short?: string }>): string {
  return Object.entries(options)
    .map(([name, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.arg ?? '<VALUE>'}` : ''}`;
      return `  ${flag.padEnd(40)} ${o.help}`;
    })
    .join('\n');
}

function verbHelp(verb: Verb): string {
  return [
    `usage: skyglass ${verb.name} ${Object.keys(verb.options).length ? '[options] ' : ''}${verb.args.join(' ')}`.trimEnd(),
    '',
    verb.summary,
    ...(Object.keys(verb.options).length ? ['', 'Options:', optionList(verb.options)] : []),
    '',
    'Global options:',
    optionList(GLOBAL),
  ].join('\n');
}

function mainHelp(): string {
  return [
    'usage: skyglass [--os-image-url <URL>] [--os-auth-token <TOKEN>] [--json] <subcommand> ...',
    '',
    'Command-line client for Skyglass (OpenStack Images API v2), with parallel resumable uploads.',
    '',
    'Subcommands:',
    ...ALL_VERBS().map((v) => `  ${v.name.padEnd(22)} ${v.summary}`),
    '',
    'Global options:',
    optionList(GLOBAL),
    '  --version                                Show the version',
    '',
    'Exit codes: 0 ok, 1 the service refused (its message is shown), 2 usage error or unreadable file,',
    '3 endpoint unreachable, 4 downloaded data does not match its checksums, 130 interrupted (resumable),',
    '141 the reader of stdout went away (| head).',
    "See 'skyglass <subcommand> --help' for the options of each.",
  ].join('\n');
}

function strip<T extends Record<string, { help: string; arg?: string }>>(options: T): ParseArgsOptionsConfig {
  return Object.fromEntries(Object.entries(options).map(([k, { help: _h, arg: _a, ...o }]) => [k, o])) as ParseArgsOptionsConfig;
}

export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    // A second Ctrl-C does not wait for the clean-up.
    if (++interrupts > 1) process.exit(EXIT.interrupted);
    controller.abort(new CliError('Interrupted', EXIT.interrupted));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const valueFlags = Object.entries(GLOBAL).filter(([, o]) => o.type === 'string').map(([name]) => `--${name}`);
    const verbAt = argv.findIndex((a, i) => !a.startsWith('-') && !(i > 0 && valueFlags.includes(argv[i - 1]!)));
    const verbName = verbAt >= 0 ? argv[verbAt] : undefined;
    if (argv.includes('--version') && !verbName) {
      process.stdout.write(`${VERSION}\n`);
      return EXIT.ok;
    }
    if (!verbName) {
      if (argv.includes('--help') || argv.includes('-h')) {
        process.stdout.write(`${mainHelp()}\n`);
        return EXIT.ok;
      }
      throw usageError('a subcommand is required; see skyglass --help');
    }
    if (verbName === 'help') {
      const about = ALL_VERBS().find((v) => v.name === argv[verbAt + 1]);
      process.stdout.write(`${about ? verbHelp(about) : mainHelp()}\n`);
      return EXIT.ok;
    }
    const verb = ALL_VERBS().find((v) => v.name === verbName);
    if (!verb) throw usageError(`argument <subcommand>: invalid choice: '${verbName}'; see skyglass --help`);
    const rest = [...argv.slice(0, verbAt), ...argv.slice(verbAt + 1)];
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { ...strip(GLOBAL), ...strip(verb.options) }, allowPositionals: true, strict: true });
    } catch (error) {
      throw usageError(`${(error as Error).message}\n${verbHelp(verb).split('\n')[0]}`);
    }
    const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
    if (values.help) {
      process.stdout.write(`${verbHelp(verb)}\n`);
      return EXIT.ok;
    }
    const required = verb.args.filter((a) => a.startsWith('<'));
    const variadic = verb.args.includes('...');
    const optional = verb.args.filter((a) => a.startsWith('[')).length;
    if (parsed.positionals.length < required.length) throw usageError(`the following arguments are required: ${required.slice(parsed.positionals.length).join(', ')}\n${verbHelp(verb).split('\n')[0]}`);
    if (!variadic && parsed.positionals.length > required.length + optional) throw usageError(`unrecognized arguments: ${parsed.positionals.slice(required.length + optional).join(' ')}`);
    let api: ImageApi | undefined;
    const setting = (flag: string, variable: string) => (values[flag] as string | undefined) ?? (process.env[variable] || undefined);
    let token = setting('os-auth-token', 'OS_AUTH_TOKEN');
    let catalogUrl: string | undefined;
    // Without a token, Keystone password auth when its settings are there (not for local verbs).
    const password = !token && !LOCAL_VERBS.includes(verb) ? passwordAuthFrom(setting) : undefined;
    if (password) ({ token, imageUrl: catalogUrl } = await keystoneSession(password));
    const ctx: Context = {
      json: Boolean(values.json),
      signal: controller.signal,
      out: (text) => process.stdout.write(`${text}\n`),
      say: (line) => process.stderr.write(`${line}\n`),
      trace: values.debug ? (line) => process.stderr.write(`debug: ${line}\n`) : () => undefined,
      api: () => {
        if (api) return api;
        const url = setting('os-image-url', 'OS_IMAGE_URL') ?? catalogUrl;
        if (!url && password) throw new CliError(`Keystone's catalog has no image endpoint (interface ${password.interface}${password.regionName ? `, region ${password.regionName}` : ''}): register one, or give --os-image-url`, EXIT.api);
        if (!url) throw usageError('You must provide an image endpoint: --os-image-url or env[OS_IMAGE_URL]');
        if (!token) throw usageError('You must provide a token (--os-auth-token or env[OS_AUTH_TOKEN]; locally: export OS_AUTH_TOKEN=$(skyglass token --project <id>)) or Keystone credentials (env[OS_AUTH_URL], env[OS_USERNAME], env[OS_PASSWORD], env[OS_PROJECT_NAME])');
        if (!/^https?:\/\//.test(url)) throw usageError(`--os-image-url ${url}: not an http(s) URL`);
        return (api = new ImageApi(url.replace(/\/+$/, '').replace(/\/v2$/, ''), token));
      },
    };
    await verb.run(ctx, values, parsed.positionals);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`${error.message}\n`);
      return error.exitCode;
    }
    if (controller.signal.aborted) {
      process.stderr.write('... terminating skyglass client\n');
      return EXIT.interrupted;
    }
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    return EXIT.api;
  }
}

/**
 * Resolves once everything written to `stream` has reached the kernel. A pipe's writes are
 * asynchronous: past its 64 KiB Node queues them, and process.exit() would drop that queue
 * (a download's last bytes, when the reader is slow). An empty write's callback runs after
 * every earlier write's; it runs with an error instead if the reader has gone (EPIPE).
 */
const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));

// A reader that stops early (`skyglass image-download ID | head`) closes the pipe: stop as cat
// does, quietly, rather than die on an unhandled EPIPE with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(EXIT.brokenPipe);
});
process.exitCode = await main(process.argv.slice(2));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
// Keep-alive sockets and timers must not hold the process once the answer is out.
process.exit();
