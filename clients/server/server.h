// ak-server internals shared by its source files.
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace akserver {

enum LogLevel { k_log_error = 0, k_log_warn = 1, k_log_info = 2, k_log_debug = 3 };

void log_msg(int level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void set_log(int level, bool use_syslog);

struct Options {
    std::string url;
    std::string ncpu;
    std::string memlimit;
    std::vector<std::string> mounts; // FSTYPE:SOURCE:TARGET[:ro]
    std::vector<std::string> disks;  // PATH[,name=NAME][,ro]
    bool foreground = false;
    int log_level = k_log_warn;
    std::string user;
    std::vector<uid_t> allow_uids;
    std::string token_file;
    std::vector<std::string> interfaces; // --if specs (docs/net.md)
};

// Server-wide state the connection threads use.
struct Config {
    bool tcp = false;
    std::vector<uid_t> allowed; // unix sockets: who may connect
    std::string secret;         // tcp: the shared secret
    uid_t tcp_uid = 0;          // tcp: credentials of kernel processes
    gid_t tcp_gid = 0;
};

extern Config g_config;

// Connection threads (connection.cpp).
int start_watcher();
int spawn_connection(int fd, bool tcp);
void stop_all_connections(int timeout_ms);

} // namespace akserver
