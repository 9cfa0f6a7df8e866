import { serveLimitsHelp } from './serve-limits.js';

export const MAIN_HELP = `ferry — upload and download CI build artifacts

Usage: ferry <command> [options]

Commands:
  upload NAME PATH...     upload files, directories and globs as artifact NAME
  download [NAME...]      download artifacts (one, several, by --pattern, or all of the run)
  list                    list the artifacts of the run
  get NAME                show one artifact
  delete NAME             delete an artifact
  merge NAME              merge the run's artifacts into a new one (without extracting them)
  doctor                  explain which protocol, token and proxy route Ferry will use
  serve                   run a local artifact service (both protocols)
  help [COMMAND]          this help, or a command's
  version                 print Ferry's version (also --version, -V)
  token                   mint a run-scoped runtime token for 'ferry serve --jwt-secret-file'
  record-run              tell a 'ferry serve' what this run is (workflow, branch, outcome)

Where artifacts go:
  In a job, Ferry reads the runner's environment: the results protocol (github.com) when
  ACTIONS_RESULTS_URL and a results-scoped ACTIONS_RUNTIME_TOKEN are set, the legacy
  protocol (GHES, Gitea, Forgejo, act) when ACTIONS_RUNTIME_URL is. With --url it talks
  to a 'ferry serve' in the protocol the server speaks (results when it can). Otherwise it
  uses the embedded local store in ~/.ferry/store (or FERRY_STORE, --store).

Common options:
  --json                  one JSON object per line on stdout, errors included (for scripts)
  --verbose               debug logging on stderr
  --quiet                 no progress lines
  --concurrency N         parallel transfers (default 8)
  --url URL               a ferry serve URL, instead of the environment
  --protocol P            with --url: auto (default: ask the server), results or legacy
  --token TOKEN           bearer token for --url (or FERRY_TOKEN)
  --run-id ID             run id for --url, the local store (default 'local') or --repository
  --store DIR             directory of the embedded local store
  -h, --help              help for a command

Exit codes: 0 success, 1 the operation failed, 2 bad usage or invalid input, 3 not found.

Run 'ferry <command> --help' for examples.`;

export const COMMAND_HELP: Record<string, string> = {
  upload: `Usage: ferry upload NAME PATH... [options]

Uploads files as artifact NAME. Each PATH is a line of upload-artifact's 'path' input: a
file, a directory (everything beneath it), or a glob ('*', '?', '**', '[...]'; quote it so
the shell leaves it to Ferry); a PATH starting with '!' excludes what it matches. Files and
directories whose name starts with '.' are left out unless --include-hidden-files. Empty
directories are kept. Paths inside the artifact are relative to the deepest directory that
contains every search path, as upload-artifact computes it (or to --root).

Options:
  --if-no-files-found W      error (default) | warn | ignore: when nothing matches
  --include-hidden-files     include files and directories whose name starts with '.'
  --retention-days N         days to keep the artifact (default: server default; capped at
                             GITHUB_RETENTION_DAYS when that is set)
  --overwrite                replace an existing artifact of the same name
  --archive false            upload one file as-is (named after the file), not zipped
  --compression-level N      0 (store) to 9 (smallest); default 6
  --symlinks MODE            follow (default: upload what links point to) | preserve (store
                             links that stay inside the artifact as links)
  --preserve-permissions B   true (default: each file's mode) | false (0644, or 0755 if executable)
  --allow-secrets            upload files even if they contain a token Ferry was given
                             (by default such a file fails the upload, naming the file)
  --root DIR                 directory artifact paths are relative to
  --chunk-size BYTES         bytes per chunk request, legacy protocol (default 4194304)
  --no-archive, --include-hidden   older spellings of --archive false, --include-hidden-files

Examples:
  ferry upload build-output dist/
  ferry upload js 'dist/**/*.js' '!dist/**/*.test.js' --retention-days 5
  ferry upload report coverage/index.html --archive false
  ferry upload site public/ --url http://127.0.0.1:8080/ --json`,
  download: `Usage: ferry download [NAME...] [--path DIR] [options]

Downloads artifacts into DIR (default: the current directory), as download-artifact and
'gh run download' do. One NAME goes straight into DIR. Several names (positional or -n
repeated), --pattern, --artifact-ids, or no name at all (every artifact of the run) put each
artifact in DIR/<artifact name>, or all of them straight into DIR with --merge-multiple
(the later artifact, by name then id, wins a path two of them have). Each download is
verified (size, sha256 digest) before anything appears in DIR, and nothing is ever written
outside DIR.

Options:
  --path DIR              where to download (default: the current directory)
  -n, --name NAME         an artifact to download (repeatable; same as a positional NAME)
  -p, --pattern GLOB      the newest artifact of each name matching GLOB ('*', '?', '{a,b}')
  --artifact-ids IDS      exactly these artifacts, by comma-separated id
  --artifact-id ID        with one NAME: this id instead of the newest called NAME
  --merge-multiple        download every artifact straight into DIR
  --conflict POLICY       a file that is already there: overwrite (default; between
                          artifacts, the one last in name order wins) | skip | error
  --symlinks MODE         links in the zip: refuse (default) | file | preserve
  --skip-decompress       keep the zip as downloaded
  --digest-mismatch P     error (default: nothing is written) | warn | info | ignore
  --no-restore-modes      give files the default mode instead of the archive's (which is
                          applied under the umask, never setuid/setgid/sticky)
  --max-entries N         refuse a zip with more entries (default 100000)
  --max-total-bytes N     refuse a zip whose entries add up to more bytes (default 64 GiB)
  --max-ratio N           refuse an entry over 1 MiB compressed more than N:1 (default 1000)
  --repository O/R        read another run (with --run-id and --github-token or GITHUB_TOKEN)
  --github-token TOKEN    token for --repository (or GITHUB_TOKEN)
  --workflow FILE         with --repository instead of --run-id: the newest run of this
                          workflow (build.yml or its id) that has the artifact
  --branch B              ... only runs of this branch
  --workflow-event E      ... only runs triggered by this event
  --workflow-conclusion C ... only runs that ended so (default success; any: every completed run)

Examples:
  ferry download build-output --path ./out
  ferry download -n linux -n macos --path ./builds
  ferry download --pattern 'logs-*' --merge-multiple --path ./logs
  ferry download --path ./everything
  ferry download dist --repository octo/app --run-id 123456 --path ./prev`,
  list: `Usage: ferry list [--latest] [options]

Lists the artifacts of the run (--latest: only the newest of each name).

Examples:
  ferry list
  ferry list --json
  ferry list --repository octo/app --run-id 123456`,
  delete: `Usage: ferry delete NAME [options]

Deletes artifact NAME (results protocol and the local store; the legacy protocol has no delete).

Examples:
  ferry delete build-output
  ferry delete old-logs --repository octo/app --run-id 123456`,
  get: `Usage: ferry get NAME [options]

Shows one artifact of the run; exit code 3 when there is none.

Examples:
  ferry get build-output --json`,
  merge: `Usage: ferry merge NAME [--pattern GLOB] [options]

Merges the newest artifact of each name matching --pattern (default '*') into a new
artifact NAME, streaming the files from the source zips without extracting them. The same
path in two artifacts: the artifact last in name order wins, as the real merge action does
(--conflict error refuses different content instead).
Results protocol and the local store only.

Options:
  --pattern GLOB            artifact names to merge (default '*')
  --separate-directories    put each artifact's files under <artifact name>/
  --delete-merged           delete the sources after the new artifact is finalized
  --conflict POLICY         overwrite (default: later wins) | skip (earlier wins) | error
  --include-hidden-files    keep files whose path has a segment starting with '.'
                            (--include-hidden is the older spelling)
  --retention-days N        days to keep the new artifact
  --compression-level N     0-9 (default 6)

Examples:
  ferry merge all-logs --pattern 'logs-*' --delete-merged
  ferry merge bundle --separate-directories --json`,
  'record-run': `Usage: ferry record-run --url URL [--token TOKEN] [--run-id RUN] [--conclusion C] [options]

Tells a ferry serve what this workflow run is, so a later download with --workflow/--branch
(or the download Action's workflow/branch inputs) can find its newest successful run. Run it
once when the run starts and once with --conclusion when it ends. GitHub knows its runs: this
is only for ferry serve.

Options (each defaults to the runner's variable):
  --workflow PATH         workflow file, e.g. .github/workflows/build.yml (GITHUB_WORKFLOW_REF)
  --workflow-name NAME    display name (GITHUB_WORKFLOW)
  --branch B              GITHUB_REF_NAME
  --sha SHA               GITHUB_SHA
  --event E               GITHUB_EVENT_NAME
  --status S              queued | in_progress | completed
  --conclusion C          success | failure | cancelled | skipped | neutral | timed_out | ...
                          (marks the run completed)

Example:
  ferry record-run --url http://127.0.0.1:8080/ --run-id 7 --workflow .github/workflows/build.yml --branch main --conclusion success`,
  doctor: `Usage: ferry doctor [--json]

Checks the environment without uploading anything: which protocol Ferry will use and
why, what the runtime token is scoped to, and whether each endpoint answers through the
configured proxy (HTTP_PROXY / HTTPS_PROXY / NO_PROXY). Each failure is one line.
Exit code 0 when every check passes, 1 otherwise.

Examples:
  ferry doctor
  HTTPS_PROXY=http://proxy:3128 ferry doctor --json`,
  serve: `Usage: ferry serve [--port N] [--host ADDR] [--data DIR | --config FILE | --store URL]
                   [--token TOKEN]
                   [--jwt-secret-file FILE]... [--jwt-public-key FILE]... [--public-url URL]
                   [--access-log json|text|off] [--metrics-public] [--drain-timeout MS]
                   [--instance-id ID] [--index-lifetime MS]

Runs a local artifact service over a data directory and prints its URL. It speaks both
protocols on one port: point legacy runners at it with ACTIONS_RUNTIME_URL=<url>, results
clients with ACTIONS_RESULTS_URL=<url>, REST clients with GITHUB_API_URL=<url>, and other
ferry commands with --url <url>.

Who may do what (docs/serve-security.md): without --token or JWT keys every request may do
everything, so that is only allowed on a loopback address. --token TOKEN is the operator's
key to every run. With JWT keys, each runner gets its own token (see 'ferry token'), which
reaches only its own run: it uploads as its job, and lists, downloads and deletes in its run.

Options:
  --port N                 port to listen on (default 0: any free port)
  --host ADDR              address to bind (default 127.0.0.1)
  --data DIR               where artifacts are stored (default ~/.ferry/serve)
  --config FILE            JSON configuration: named stores, eviction, retention sweep
                           (docs/serve.md); its store's path replaces --data
  --store azure://CONTAINER
                           keep results-protocol artifacts in this Azure Blob container
                           (created when missing; account from the environment variable
                           AZURE_STORAGE_CONNECTION_STRING); several instances may share it
  --token TOKEN            shared token with access to every run (or FERRY_TOKEN)
  --jwt-secret-file FILE   accept HS256 runtime JWTs signed with this secret (>= 32 bytes);
                           repeat it to accept an old and a new secret while rotating
  --jwt-public-key FILE    accept RS256/ES256 runtime JWTs signed for this PEM public key
                           (repeatable)
  --public-url URL         the URL clients use when it is not the bound address (reverse
                           proxy, container name, forwarded port); other Host names get 421
  --access-log FORMAT      one line per request on stderr: json (one object per line), text
                           or off (default: off; text with --verbose)
  --metrics-public         serve /metrics and /status without a credential (otherwise they
                           need --token when the server has authentication)
  --drain-timeout MS       on SIGTERM/SIGINT, how long requests in flight may finish (default
                           30000); a second signal stops at once
  --instance-id ID         the instance label of /metrics and /status (default hostname:pid)
  --index-lifetime MS      how long the listing index trusts one read of the store; it is
                           re-read in the background at 0.9 of this (default 300000)

Limits (bytes, milliseconds or counts; see docs/cli.md#serve for what each bounds):
${serveLimitsHelp()}

Examples:
  ferry serve --port 8080 --data /srv/artifacts
  ferry serve --max-artifact-bytes 2147483648 --max-connections 256
  ferry serve --port 0 --data ./store --token s3cret
  ferry serve --host 0.0.0.0 --port 8080 --jwt-secret-file /etc/ferry/jwt.key \\
    --public-url https://artifacts.example.com/`,
  help: `Usage: ferry help [COMMAND]

Prints the overview, or the help of COMMAND (the same as 'ferry COMMAND --help').

Examples:
  ferry help
  ferry help download`,
  version: `Usage: ferry version [--json]

Prints Ferry's version (the same as 'ferry --version' and 'ferry -V').

Examples:
  ferry version
  ferry --version`,
  token: `Usage: ferry token --run RUN --job JOB --jwt-secret-file FILE [--ttl 6h] [--json]

Prints a runtime token for one job of one run, signed with the HS256 secret that
'ferry serve --jwt-secret-file FILE' verifies. Give it to the runner as
ACTIONS_RUNTIME_TOKEN: it may create and finalize artifacts as JOB in RUN, and list,
download and delete artifacts of RUN, until it expires. Nothing else. For the legacy
protocol use RUN as the runner's GITHUB_RUN_ID too.

Options:
  --run RUN                the workflow run id (workflow_run_backend_id); no spaces or ':'
  --job JOB                the job id (workflow_job_run_backend_id); no spaces or ':'
  --ttl DURATION           lifetime: 90s, 30m, 6h (default), 7d; at most 31d
  --jwt-secret-file FILE   the secret file ferry serve was started with
  --json                   {"token", "run", "job", "expiresAt"} on stdout

Examples:
  openssl rand -hex 32 > jwt.key && chmod 600 jwt.key
  ACTIONS_RUNTIME_TOKEN=$(ferry token --run 1234 --job build --jwt-secret-file jwt.key)`,
};
