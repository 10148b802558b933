// akctl network commands (netcmds.cpp).  Each returns the exit status:
// 0, 1 (an error, reported on stderr) or 2 (usage: the caller prints it).
#pragma once

namespace akctl {

int cmd_ifconfig(int argc, char** argv);
int cmd_route(int argc, char** argv);
int cmd_ping(int argc, char** argv);
int cmd_arp(int argc, char** argv);
int cmd_netstat(int argc, char** argv);

} // namespace akctl
