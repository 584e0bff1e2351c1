/* Helpers for the core tests that use real processes (fork): a one-byte
 * channel between parent and child, spawning and reaping children.
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace qa {

/// One-byte messages between parent and child, each read bounded by a timeout.
struct channel {
    int up[2] { -1, -1 }; // child -> parent
    int down[2] { -1, -1 }; // parent -> child
    channel() { BOOST_REQUIRE(pipe(up) == 0 && pipe(down) == 0); }
    ~channel()
    {
        for (int fd : { up[0], up[1], down[0], down[1] })
            ::close(fd);
    }
    static bool send(int fd) { return ::write(fd, "x", 1) == 1; }
    static bool recv(int fd)
    {
        pollfd p { fd, POLLIN, 0 };
        char c;
        return poll(&p, 1, 10000) == 1 && ::read(fd, &c, 1) == 1;
    }
    void tell_parent() { send(up[1]); }
    bool from_child() { return recv(up[0]); }
    void tell_child() { send(down[1]); }
    bool from_parent() { return recv(down[0]); }
};

/// Run `body` (returning an exit code) in a forked child. A child that must
/// die holding a role leaks its handle: a destructor would release it.
template <class F>
pid_t spawn(F body)
{
    std::cout.flush(); // or the child's copy of the buffer is printed again
    std::fflush(stdout);
    pid_t pid = fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        int rc = 99;
        try {
            rc = body();
        } catch (...) {
        }
        _exit(rc);
    }
    return pid;
}

/// Run `hold` in a forked child (false: it failed, exit code 2) that then
/// waits to be killed still holding what `hold` took (roles of handles it
/// leaks). Returns the child's pid once `hold` has run.
template <class F>
pid_t spawn_holder(F hold)
{
    channel ch;
    const pid_t child = spawn([&] {
        if (!hold())
            return 2;
        ch.tell_parent();
        ch.from_parent(); // killed while waiting here
        return 3;
    });
    BOOST_REQUIRE(ch.from_child());
    return child;
}

/// Exit code of a child (128 + signal if it was killed).
inline int reap(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

} // namespace qa
