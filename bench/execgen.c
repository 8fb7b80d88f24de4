/* execgen: a cheap exec load generator for bench/bench_sensor.py.

   Why C: the Python generator (os.posix_spawn in a paced loop) saturated both CPUs of the test VM at ~1,200 execs/s,
   so the benchmark measured the generator, not vigil. Here each spawn costs one vfork-style posix_spawn and the pacing
   is clock_nanosleep on an absolute CLOCK_MONOTONIC schedule (no drift, no busy waiting).

   usage: execgen RATE SECONDS EVERY FAKE [TRUE] [lazy]
     RATE     execs per second (this process)
     SECONDS  how long
     EVERY    every EVERY-th exec runs FAKE instead of TRUE (0 = never)
     FAKE     path of the alerting binary (a copy of /bin/true named nping)
     TRUE     the ordinary binary (default /bin/true)
     lazy     reap children only between spawns (WNOHANG), as a busy parent would; the default reaps each child the
              moment it exits (a thread blocked in waitpid, like a shell loop) - the harshest case for /proc readers

   Output (stdout, after the run): one line "pid spawn_ns" per exec (CLOCK_MONOTONIC just before posix_spawn), then
   "# spawned N elapsed_s S late_max_us L" (L = the worst lateness of a spawn against its schedule). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int done;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *reaper(void *arg) {
    (void)arg;
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == ECHILD) {
                if (done) return NULL;
                usleep(100); /* no child right now: the next spawn comes within a period */
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s RATE SECONDS EVERY FAKE [TRUE] [lazy]\n", argv[0]);
        return 2;
    }
    double rate = atof(argv[1]), seconds = atof(argv[2]);
    long every = atol(argv[3]);
    const char *fake = argv[4];
    const char *truth = argc > 5 ? argv[5] : "/bin/true";
    int lazy = argc > 6 && strcmp(argv[6], "lazy") == 0;
    if (rate <= 0 || seconds <= 0) {
        fprintf(stderr, "execgen: RATE and SECONDS must be positive\n");
        return 2;
    }
    long total = (long)(rate * seconds);
    pid_t *pids = calloc((size_t)total, sizeof *pids);
    int64_t *stamps = calloc((size_t)total, sizeof *stamps);
    if (!pids || !stamps) return 1;
    const char *fake_name = strrchr(fake, '/') ? strrchr(fake, '/') + 1 : fake;
    const char *true_name = strrchr(truth, '/') ? strrchr(truth, '/') + 1 : truth;
    char *fake_argv[] = {(char *)fake_name, NULL};
    char *true_argv[] = {(char *)true_name, NULL};
    char *envp[] = {NULL};

    pthread_t thread;
    if (!lazy && pthread_create(&thread, NULL, reaper, NULL) != 0) return 1;

    int64_t period = (int64_t)(1e9 / rate), late_max = 0;
    int64_t start = now_ns();
    long n = 0;
    for (; n < total; n++) {
        int64_t due = start + n * period;
        struct timespec ts = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
        int64_t t = now_ns();
        if (t - due > late_max) late_max = t - due;
        int is_fake = every > 0 && n % every == every - 1;
        pid_t pid;
        int err = posix_spawn(&pid, is_fake ? fake : truth, NULL, NULL, is_fake ? fake_argv : true_argv, envp);
        if (err != 0) {
            fprintf(stderr, "execgen: posix_spawn: %s\n", strerror(err));
            break;
        }
        pids[n] = pid;
        stamps[n] = t;
        if (lazy)
            while (waitpid(-1, NULL, WNOHANG) > 0) {
            }
    }
    double elapsed = (now_ns() - start) / 1e9;
    done = 1;
    if (lazy)
        while (waitpid(-1, NULL, 0) > 0) {
        }
    else
        pthread_join(thread, NULL);
    for (long i = 0; i < n; i++) printf("%d %lld\n", pids[i], (long long)stamps[i]);
    printf("# spawned %ld elapsed_s %.6f late_max_us %lld\n", n, elapsed, (long long)(late_max / 1000));
    return 0;
}
