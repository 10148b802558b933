/*
 * libakclient extras: the remote client's own API beside <anykern/anykern.h>.
 *
 * ak_init() connects to the server named by the AK_SERVER environment
 * variable; akc_connect() names the server explicitly.  Every thread of the
 * program gets its own connection to the same kernel process (so a thread
 * blocked in a read blocks nobody else).  fork() is handled with
 * pthread_atfork: the child becomes a child kernel process holding a copy
 * of the parent's descriptors (docs/remote-protocol.md, "Processes").
 *
 * Independent sessions (one kernel process each, e.g. for tests that act as
 * many clients from one program) come from akc_open() and are driven with
 * akc_syscall().
 */
#ifndef ANYKERN_AKCLIENT_H
#define ANYKERN_AKCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Connect the default session (the one ak_sys_* use) to url
 * ("unix:///path.sock" or "tcp://host:port").  Returns 0 or -1 with errno
 * set (and a line on stderr saying why). */
int akc_connect(const char* url);

/* Server statistics (the STATS control message). */
struct akc_stats {
    uint32_t procs;       /* kernel processes, pid 1 included */
    uint32_t connections; /* open client connections */
    uint32_t sessions;    /* kernel processes owned by clients */
    uint32_t pending_tokens;
    uint64_t mem_in_use; /* kernel memory allocator, bytes */
    uint64_t mem_peak;
    uint64_t mem_limit;
    uint32_t caller_nfds; /* descriptors of the caller's kernel process */
};
int akc_stats(struct akc_stats* out);

/* The kernel pid of the default session, or -1. */
int akc_kpid(void);

/* True if fd is one of the library's own sockets (the hijack library keeps
 * programs from closing or replacing them). */
int akc_is_internal_fd(int fd);

/* exec support for the hijack library.  akc_exec_prepare() asks the server
 * for a one-time token under which the new program image re-attaches to
 * this kernel process (or, called in a vfork child, to a new child process
 * with a copy of the descriptors); token_hex receives 64 hex digits + NUL.
 * akc_exec_cancel() withdraws the token when execve failed.
 * akc_attach() connects the default session under such a token. */
int akc_exec_prepare(int* kpid, char token_hex[65]);
int akc_exec_cancel(const char* token_hex);
int akc_attach(const char* url, int kpid, const char* token_hex);

/* Independent sessions. */
typedef struct akc_session akc_session;
akc_session* akc_open(const char* url);                        /* NULL with errno set */
long akc_syscall(akc_session* s, long nr, const long args[6]); /* result or -errno */
int akc_session_kpid(akc_session* s);
int akc_session_stats(akc_session* s, struct akc_stats* out);
void akc_close(akc_session* s);

#ifdef __cplusplus
}
#endif

#endif
