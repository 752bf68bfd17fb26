// mkb_lockdown.h: the runner refuses to become another program. Its sandbox (bubblewrap + the supervisor's seccomp
// filter) already refuses new processes, sessions, sockets and affinity changes, but must allow the one execve that
// starts the runner. Here, before any library's initialiser runs (.preinit_array runs first, in the executable only),
// the runner adds a filter of its own that refuses execve and execveat for the rest of its life, so code loaded with
// the candidate's library cannot replace the runner (and its report) with another program. Filters only ever add
// restrictions; where seccomp is unavailable (qemu-user, old kernels) the runner goes on without this one.
#pragma once

#if defined(__linux__) || defined(__ANDROID__)
#include <cerrno>
#include <cstddef>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define MKB_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define MKB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef MKB_AUDIT_ARCH
namespace mkb_lockdown {
inline void noExec(int, char**, char**) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MKB_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),  // another ABI's calls: nothing a kernel needs
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 3, 0),  // x32 numbering on x86-64
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execve, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execveat, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof(code) / sizeof(code[0])), code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

// No new code once the candidate's plug-in is loaded (its code first runs after this): memory never becomes
// executable again (mmap, mprotect, pkey_mprotect with PROT_EXEC; shmat with SHM_EXEC: the process is killed with
// SIGSYS, which the judge reads as `rejected`). The traps over MNN's native
// kernel (trapNative) and every library's text then stay as loaded: a kernel that put the trapped bytes back from the
// library file (mprotect RWX, then memcpy) or patched another op's code ran MNN's kernel, or skipped work, as its own.
// (/proc is mounted read-only in the sandbox: /proc/self/mem, which writes past page protections, cannot be opened for
// writing.) Returns whether the filter is in place; the runner refuses to load a plug-in without it.
#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif
#ifndef __NR_pkey_mprotect
#define __NR_pkey_mprotect __NR_mprotect  // (a kernel without it: the jump is a second test of mprotect)
#endif
inline bool noNewCode() {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MKB_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 4, 0),           // -> 9
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 3, 0),       // -> 9
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pkey_mprotect, 2, 0),  // -> 9
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_shmat, 3, 0),          // -> 11
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        // 9: mmap, mprotect, pkey_mprotect: the protection is the third argument (its low word)
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 2, 3),          // -> 13 refuse, 14 allow
        // 11: shmat: its flags are the third argument
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SHM_EXEC, 0, 1),           // -> 13 refuse, 14 allow
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),  // SIGSYS: the judge reads it as new code asked for
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof(code) / sizeof(code[0])), code};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}
}  // namespace mkb_lockdown

__attribute__((section(".preinit_array"), used)) static void (*const mkbLockdownAtStart)(int, char**, char**) = mkb_lockdown::noExec;
#endif
#endif
