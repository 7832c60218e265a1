// The user command line: `vault-autopilot seal ...` and `verify ...`.
// operator/main.ts hands argv here when the first argument is a CLI command.
import { ExitCode, processIO, UsageError, type CliIO } from './io.js';
import { runSeal } from './seal.js';
import { runVerify } from './verify.js';

export { ExitCode, type CliIO } from './io.js';

export const CLI_COMMANDS = ['seal', 'verify'] as const;

export const USAGE = `Usage: vault-autopilot <command> [options]

Commands:
  seal      encrypt values with AWS KMS and print a KMSVaultSecret manifest
  verify    decrypt every key of KMSVaultSecret manifests and report OK/FAIL per key

Run "vault-autopilot <command> --help" for a command's options.
`;

/** True when argv (without node and script) names a CLI command. */
export function isCliCommand(argv: readonly string[]): boolean {
  return (CLI_COMMANDS as readonly string[]).includes(argv[0] ?? '');
}

/** Run a command; resolves to the process exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'seal':
        return await runSeal(rest, io);
      case 'verify':
        return await runVerify(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? ExitCode.Usage : ExitCode.Ok;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    // parseArgs reports unknown/malformed options with ERR_PARSE_ARGS_* codes
    const code = (err as { code?: string }).code ?? '';
    if (err instanceof UsageError || code.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`${command ?? 'vault-autopilot'}: ${(err as Error).message}\nRun "vault-autopilot ${command && isCliCommand([command]) ? `${command} ` : ''}--help" for usage.\n`);
      return ExitCode.Usage;
    }
    io.stderr(`${command}: ${(err as Error).message}\n`);
    return ExitCode.Failed;
  }
}
