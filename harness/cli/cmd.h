/* The harness's subcommands: each takes argv with argv[0] = its own name. */
#ifndef SHUNT_HARNESS_CMD_H
#define SHUNT_HARNESS_CMD_H

int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_check(int argc, char **argv);
/* harness/cli/cmd_proxy.c, built when present (see harness/CMakeLists.txt). */
int cmd_proxy(int argc, char **argv);
/* harness/cli/cmd_exec.c */
int cmd_exec(int argc, char **argv);
/* harness/cli/cmd_run.c */
int cmd_run(int argc, char **argv);
/* harness/cli/cmd_record.c */
int cmd_record(int argc, char **argv);
/* harness/cli/cmd_fuzz.c */
int cmd_fuzz(int argc, char **argv);

/* Exit codes shared by every command. */
#define SHUNT_EXIT_OK 0
#define SHUNT_EXIT_FAIL 1
#define SHUNT_EXIT_USAGE 2

#endif
