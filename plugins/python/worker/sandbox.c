/*
 * sandbox.c — what a script's process gives up.
 *
 * The zygote (before CPython starts, so before any script code):
 *   - never root: as root it becomes `nobody` (the daemon drops to its
 *     `user:` before it loads plugins, so this is for a daemon run as
 *     root without one);
 *   - no capabilities (the daemon's CAP_NET_BIND_SERVICE, ambient under
 *     systemd, is not inherited), no_new_privs (no setuid program gives
 *     them back), not dumpable (no core files, and no other process of
 *     the same user may read or write its memory through /proc).
 * The zygote again, before the script's top level runs (so workers,
 * forked from it, inherit all this):
 *   - limits: address space (PYTHON.memory), 64 open files, no core;
 *   - a seccomp filter: no signal to any process, no tracing, no reading
 *     or writing another process's memory (so not the daemon's), no exec,
 *     no namespaces, no SIGIO owner. A foreign system call ABI (i386,
 *     x32) kills the process.
 * A worker, after fork: a second filter on top, no new processes (a
 * killed worker leaves nothing behind); threads may be started (clone
 * with CLONE_THREAD). Once it is ready, a lower CPU priority (nice 10):
 * a script that loops until it is killed takes CPU from the daemon's
 * relays, and from the zygote forking its replacement, last.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#endif

#define NOFILE_MAX 64

static int
become_nobody(char *err, size_t errlen)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam("nobody");
	if (pw == NULL) {
		snprintf(err, errlen, "no user 'nobody' to run scripts as");
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "cannot become 'nobody': %s",
			 strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "root could be regained");
		return -1;
	}
	return 0;
}

/* capset only when there is something to drop: under systemd's
 * SystemCallFilter=~@privileged it is forbidden (and python.so spawns
 * this program without ambient capabilities, so there is none). */
static int
drop_caps(char *err, size_t errlen)
{
	struct __user_cap_header_struct head = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(data, 0, sizeof(data));
	/* The inheritable set is left alone: it grants nothing to a process
	 * that never executes a program (seccomp), and systemd's
	 * AmbientCapabilities= leaves CAP_NET_BIND_SERVICE there. */
	if (syscall(SYS_capget, &head, data) == 0 && data[0].permitted == 0 &&
	    data[1].permitted == 0 && data[0].effective == 0 &&
	    data[1].effective == 0)
		return 0;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &head, data) < 0) {
		snprintf(err, errlen, "cannot drop capabilities: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

int
sandbox_zygote(char *err, size_t errlen)
{
	struct rlimit no_core = {0, 0};

	if (become_nobody(err, errlen) < 0 || drop_caps(err, errlen) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		snprintf(err, errlen, "prctl: %s", strerror(errno));
		return -1;
	}
	(void)setrlimit(RLIMIT_CORE, &no_core);
	return 0;
}

/* ---- the seccomp filter ---- */

#define ARG_LO(n) (offsetof(struct seccomp_data, args[(n)]))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define DENY RET(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define ALLOW RET(SECCOMP_RET_ALLOW)
/* nr == x: deny (two instructions). */
#define DENY_NR(x) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (x), 0, 1), DENY

#ifdef SECCOMP_ARCH
/* Both filters start with this: the right ABI, or the process dies. */
#if defined(__x86_64__)
#define CHECK_ARCH                                                         \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS,                                 \
		 offsetof(struct seccomp_data, arch)),                     \
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0),   \
		RET(SECCOMP_RET_KILL_PROCESS),                             \
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,                         \
			 offsetof(struct seccomp_data, nr)),               \
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u /* x32 */, \
			 0, 1),                                            \
		RET(SECCOMP_RET_KILL_PROCESS)
#else
#define CHECK_ARCH                                                       \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS,                               \
		 offsetof(struct seccomp_data, arch)),                   \
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0), \
		RET(SECCOMP_RET_KILL_PROCESS),                           \
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,                       \
			 offsetof(struct seccomp_data, nr))
#endif

/* The zygote, before the script's top level runs (and so every worker,
 * which inherits it). */
static const struct sock_filter script_filter[] = {
	CHECK_ARCH,
	/* Signals to anyone (the script's own process included: nothing a
	 * script needs), tracing, other processes' memory. */
	DENY_NR(__NR_kill),
	DENY_NR(__NR_tkill),
	DENY_NR(__NR_tgkill),
	DENY_NR(__NR_rt_sigqueueinfo),
	DENY_NR(__NR_rt_tgsigqueueinfo),
#ifdef __NR_pidfd_send_signal
	DENY_NR(__NR_pidfd_send_signal),
#endif
#ifdef __NR_pidfd_getfd
	DENY_NR(__NR_pidfd_getfd),
#endif
	DENY_NR(__NR_ptrace),
	DENY_NR(__NR_process_vm_readv),
	DENY_NR(__NR_process_vm_writev),
	DENY_NR(__NR_kcmp),
	/* No new programs, namespaces or kernel objects. */
	DENY_NR(__NR_execve),
	DENY_NR(__NR_execveat),
	DENY_NR(__NR_unshare),
	DENY_NR(__NR_setns),
	DENY_NR(__NR_bpf),
	DENY_NR(__NR_perf_event_open),
	DENY_NR(__NR_userfaultfd),
	DENY_NR(__NR_keyctl),
	DENY_NR(__NR_add_key),
	DENY_NR(__NR_request_key),
	/* fcntl: no SIGIO/SIGURG owner, no signal choice. */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fcntl, 0, 6),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_SETOWN, 2, 0),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_SETOWN_EX, 1, 0),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_SETSIG, 0, 1),
	DENY,
	ALLOW,
	/* ioctl: the same through sockets. */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 5),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FIOSETOWN, 1, 0),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SIOCSPGRP, 0, 1),
	DENY,
	ALLOW,
	ALLOW,
};

/* A worker, added to the above: no new processes (threads only), and no
 * pidfds (the zygote needs them for the workers it forks). */
static const struct sock_filter worker_filter[] = {
	CHECK_ARCH,
#if defined(__x86_64__)
	DENY_NR(__NR_fork),
	DENY_NR(__NR_vfork),
#endif
#ifdef __NR_pidfd_open
	DENY_NR(__NR_pidfd_open),
#endif
	/* clone3's flags are in memory the filter cannot read: ENOSYS makes
	 * glibc start threads with clone, whose flags it can. */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
	RET(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
	/* clone: threads only. */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)),
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
	ALLOW,
	DENY,
	ALLOW,
};
#endif

#ifdef SECCOMP_ARCH
#define FILTER(f) (f), sizeof(f) / sizeof((f)[0])
#else
#define FILTER(f) NULL, 0
#endif

static int
install_filter(const struct sock_filter *filter, size_t len, char *err,
	       size_t errlen)
{
#ifdef SECCOMP_ARCH
	struct sock_fprog prog = {
		.len = (unsigned short)len,
		.filter = (struct sock_filter *)(uintptr_t)filter,
	};

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
		snprintf(err, errlen, "cannot install the seccomp filter: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
#else
	(void)filter;
	(void)len;
	(void)err;
	(void)errlen;
	return 0; /* unknown architecture: limits and privileges only */
#endif
}

/* Sanitizers reserve terabytes of address space: no RLIMIT_AS there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PMX_NO_AS_LIMIT 1
#endif

int
sandbox_script(char *err, size_t errlen)
{
	struct rlimit files = {NOFILE_MAX, NOFILE_MAX};

#ifndef PMX_NO_AS_LIMIT
	if (wk.memory > 0) {
		struct rlimit as = {(rlim_t)wk.memory, (rlim_t)wk.memory};

		if (setrlimit(RLIMIT_AS, &as) < 0) {
			snprintf(err, errlen, "cannot limit memory: %s",
				 strerror(errno));
			return -1;
		}
	}
#endif
	if (setrlimit(RLIMIT_NOFILE, &files) < 0) {
		snprintf(err, errlen, "cannot limit files: %s",
			 strerror(errno));
		return -1;
	}
	return install_filter(FILTER(script_filter), err, errlen);
}

int
sandbox_worker(char *err, size_t errlen)
{
	return install_filter(FILTER(worker_filter), err, errlen);
}

void
sandbox_worker_ready(void)
{
	(void)setpriority(PRIO_PROCESS, 0, 10);
}
