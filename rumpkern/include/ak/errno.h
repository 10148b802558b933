// Linux x86-64 errno values: the kernel's system-call ABI.
//
// In kernel code each name is a constant of type ak::Errno (an unscoped
// enum: it converts to int, but overload resolution tells it from a number),
// so `return ENOENT;` from a function returning Result<long> is an error and
// never the value 2.  Each is defined only when not already defined, so a
// hosted test that also includes the host <errno.h> (same values on Linux;
// a test checks) still compiles.
#pragma once

namespace ak {
enum Errno : int {};
}
// Header-inline kernel code writes `return Errno(ENOMEM);` so it means the
// same when a hosted test has the host's int-valued macros instead.
#ifndef EPERM
#define EPERM ((::ak::Errno)1)
#endif
#ifndef ENOENT
#define ENOENT ((::ak::Errno)2)
#endif
#ifndef ESRCH
#define ESRCH ((::ak::Errno)3)
#endif
#ifndef EINTR
#define EINTR ((::ak::Errno)4)
#endif
#ifndef EIO
#define EIO ((::ak::Errno)5)
#endif
#ifndef ENXIO
#define ENXIO ((::ak::Errno)6)
#endif
#ifndef E2BIG
#define E2BIG ((::ak::Errno)7)
#endif
#ifndef ENOEXEC
#define ENOEXEC ((::ak::Errno)8)
#endif
#ifndef EBADF
#define EBADF ((::ak::Errno)9)
#endif
#ifndef ECHILD
#define ECHILD ((::ak::Errno)10)
#endif
#ifndef EAGAIN
#define EAGAIN ((::ak::Errno)11)
#endif
#ifndef ENOMEM
#define ENOMEM ((::ak::Errno)12)
#endif
#ifndef EACCES
#define EACCES ((::ak::Errno)13)
#endif
#ifndef EFAULT
#define EFAULT ((::ak::Errno)14)
#endif
#ifndef ENOTBLK
#define ENOTBLK ((::ak::Errno)15)
#endif
#ifndef EBUSY
#define EBUSY ((::ak::Errno)16)
#endif
#ifndef EEXIST
#define EEXIST ((::ak::Errno)17)
#endif
#ifndef EXDEV
#define EXDEV ((::ak::Errno)18)
#endif
#ifndef ENODEV
#define ENODEV ((::ak::Errno)19)
#endif
#ifndef ENOTDIR
#define ENOTDIR ((::ak::Errno)20)
#endif
#ifndef EISDIR
#define EISDIR ((::ak::Errno)21)
#endif
#ifndef EINVAL
#define EINVAL ((::ak::Errno)22)
#endif
#ifndef ENFILE
#define ENFILE ((::ak::Errno)23)
#endif
#ifndef EMFILE
#define EMFILE ((::ak::Errno)24)
#endif
#ifndef ENOTTY
#define ENOTTY ((::ak::Errno)25)
#endif
#ifndef ETXTBSY
#define ETXTBSY ((::ak::Errno)26)
#endif
#ifndef EFBIG
#define EFBIG ((::ak::Errno)27)
#endif
#ifndef ENOSPC
#define ENOSPC ((::ak::Errno)28)
#endif
#ifndef ESPIPE
#define ESPIPE ((::ak::Errno)29)
#endif
#ifndef EROFS
#define EROFS ((::ak::Errno)30)
#endif
#ifndef EMLINK
#define EMLINK ((::ak::Errno)31)
#endif
#ifndef EPIPE
#define EPIPE ((::ak::Errno)32)
#endif
#ifndef EDOM
#define EDOM ((::ak::Errno)33)
#endif
#ifndef ERANGE
#define ERANGE ((::ak::Errno)34)
#endif
#ifndef EDEADLK
#define EDEADLK ((::ak::Errno)35)
#endif
#ifndef ENAMETOOLONG
#define ENAMETOOLONG ((::ak::Errno)36)
#endif
#ifndef ENOLCK
#define ENOLCK ((::ak::Errno)37)
#endif
#ifndef ENOSYS
#define ENOSYS ((::ak::Errno)38)
#endif
#ifndef ENOTEMPTY
#define ENOTEMPTY ((::ak::Errno)39)
#endif
#ifndef ELOOP
#define ELOOP ((::ak::Errno)40)
#endif
#ifndef ENOMSG
#define ENOMSG ((::ak::Errno)42)
#endif
#ifndef ENODATA
#define ENODATA ((::ak::Errno)61)
#endif
#ifndef ETIME
#define ETIME ((::ak::Errno)62)
#endif
#ifndef EPROTO
#define EPROTO ((::ak::Errno)71)
#endif
#ifndef EBADMSG
#define EBADMSG ((::ak::Errno)74)
#endif
#ifndef EOVERFLOW
#define EOVERFLOW ((::ak::Errno)75)
#endif
#ifndef ELIBBAD
#define ELIBBAD ((::ak::Errno)80)
#endif
#ifndef EILSEQ
#define EILSEQ ((::ak::Errno)84)
#endif
#ifndef EUSERS
#define EUSERS ((::ak::Errno)87)
#endif
#ifndef ENOTSOCK
#define ENOTSOCK ((::ak::Errno)88)
#endif
#ifndef EDESTADDRREQ
#define EDESTADDRREQ ((::ak::Errno)89)
#endif
#ifndef EMSGSIZE
#define EMSGSIZE ((::ak::Errno)90)
#endif
#ifndef EPROTOTYPE
#define EPROTOTYPE ((::ak::Errno)91)
#endif
#ifndef ENOPROTOOPT
#define ENOPROTOOPT ((::ak::Errno)92)
#endif
#ifndef EPROTONOSUPPORT
#define EPROTONOSUPPORT ((::ak::Errno)93)
#endif
#ifndef ESOCKTNOSUPPORT
#define ESOCKTNOSUPPORT ((::ak::Errno)94)
#endif
#ifndef EOPNOTSUPP
#define EOPNOTSUPP ((::ak::Errno)95)
#endif
#ifndef EPFNOSUPPORT
#define EPFNOSUPPORT ((::ak::Errno)96)
#endif
#ifndef EAFNOSUPPORT
#define EAFNOSUPPORT ((::ak::Errno)97)
#endif
#ifndef EADDRINUSE
#define EADDRINUSE ((::ak::Errno)98)
#endif
#ifndef EADDRNOTAVAIL
#define EADDRNOTAVAIL ((::ak::Errno)99)
#endif
#ifndef ENETDOWN
#define ENETDOWN ((::ak::Errno)100)
#endif
#ifndef ENETUNREACH
#define ENETUNREACH ((::ak::Errno)101)
#endif
#ifndef ENETRESET
#define ENETRESET ((::ak::Errno)102)
#endif
#ifndef ECONNABORTED
#define ECONNABORTED ((::ak::Errno)103)
#endif
#ifndef ECONNRESET
#define ECONNRESET ((::ak::Errno)104)
#endif
#ifndef ENOBUFS
#define ENOBUFS ((::ak::Errno)105)
#endif
#ifndef EISCONN
#define EISCONN ((::ak::Errno)106)
#endif
#ifndef ENOTCONN
#define ENOTCONN ((::ak::Errno)107)
#endif
#ifndef ESHUTDOWN
#define ESHUTDOWN ((::ak::Errno)108)
#endif
#ifndef ETIMEDOUT
#define ETIMEDOUT ((::ak::Errno)110)
#endif
#ifndef ECONNREFUSED
#define ECONNREFUSED ((::ak::Errno)111)
#endif
#ifndef EHOSTDOWN
#define EHOSTDOWN ((::ak::Errno)112)
#endif
#ifndef EHOSTUNREACH
#define EHOSTUNREACH ((::ak::Errno)113)
#endif
#ifndef EALREADY
#define EALREADY ((::ak::Errno)114)
#endif
#ifndef EINPROGRESS
#define EINPROGRESS ((::ak::Errno)115)
#endif
#ifndef ESTALE
#define ESTALE ((::ak::Errno)116)
#endif
#ifndef EUCLEAN
#define EUCLEAN ((::ak::Errno)117)
#endif
#ifndef EDQUOT
#define EDQUOT ((::ak::Errno)122)
#endif
#ifndef ECANCELED
#define ECANCELED ((::ak::Errno)125)
#endif
#ifndef EWOULDBLOCK
#define EWOULDBLOCK EAGAIN
#endif
#ifndef ENOTSUP
#define ENOTSUP EOPNOTSUPP
#endif
