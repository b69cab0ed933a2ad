/*
 * cli.h — `omniroute <command>`: headless setup without the dashboard, working on the data
 * directory directly through the store (no running gateway needed; a running one picks the
 * change up at its next configuration write or restart).
 *
 *   omniroute providers add --provider ID --name NAME [--api-key KEY | - ] [--api-key-env VAR]
 *                           [--base-url URL] [--priority N] [--default-model M]
 *   omniroute providers list [--json]
 *   omniroute keys create --name NAME [--allowed-models GLOB,…] [--admin] [--quiet]
 *   omniroute keys list
 *   omniroute backup --out FILE [--force]
 * Every command takes --data-dir DIR (default: DATA_DIR, else ~/.omniroute) and --help.
 * Exit status: 0 done, 1 failed, 2 bad usage. Secrets are never echoed except the new client
 * key, once; `--api-key -` reads the provider key from stdin (keeps it out of ps and history).
 *
 * Runs on the main thread before anything else starts.
 */
#ifndef OR_APP_CLI_H
#define OR_APP_CLI_H

#include <stdbool.h>

/* True when argv[1] names a command (then main hands over to or_cli_main). */
bool or_cli_is_command(const char *arg);
/* argv[0] is the command name. Returns the process exit status. */
int or_cli_main(int argc, char **argv);

/* The commands' synopsis, for `omniroute --help`. */
extern const char or_cli_usage[];

/* DATA_DIR, or ~/.omniroute (new string; the caller frees it). */
char *or_cli_default_data_dir(void);

#endif
