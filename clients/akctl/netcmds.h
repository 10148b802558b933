// akctl network commands (netcmds.cpp), and the error report every akctl
// command uses.  Each command returns the exit status: 0, 1 (an error,
// reported on stderr) or 2 (usage: the caller prints it).
#pragma once

#include <stdarg.h>

namespace akctl {

// Report an error on stderr ("akctl: " and the message); returns 1.
int fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
int vfail(const char* fmt, va_list ap);

int cmd_ifconfig(int argc, char** argv);
int cmd_route(int argc, char** argv);
int cmd_ping(int argc, char** argv);
int cmd_arp(int argc, char** argv);
int cmd_netstat(int argc, char** argv);

} // namespace akctl
