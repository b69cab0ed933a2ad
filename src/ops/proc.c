#include "ops/proc.h"

#include "ops/expo.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

void or_proc_read(or_proc_stats *out)
{
    *out = (or_proc_stats){.open_fds = -1, .max_fds = -1};
    long page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
        unsigned long long size, resident;
        if (fscanf(f, "%llu %llu", &size, &resident) == 2 && page > 0) {
            out->vsize_bytes = size * (unsigned long long)page;
            out->rss_bytes = resident * (unsigned long long)page;
        }
        fclose(f);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        out->cpu_seconds = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    out->open_fds = count_fds();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        out->max_fds = (long)rl.rlim_cur;
}

or_err or_proc_render(or_buf *b, int64_t started_wall_ms, uint64_t uptime_ms, const char *version)
{
    or_proc_stats st;
    or_proc_read(&st);
    const char *const build[] = {"version", version, NULL};
    or_err rc = or_expo_family(b, "omniroute_build_info", "gauge",
                               "Always 1; the version label says which build runs");
    if (rc == OR_OK)
        rc = or_expo_u64(b, "omniroute_build_info", build, 1);
    if (rc == OR_OK)
        rc = or_expo_family(b, "omniroute_uptime_seconds", "gauge", "Seconds since start");
    if (rc == OR_OK)
        rc = or_expo_f64(b, "omniroute_uptime_seconds", NULL, (double)uptime_ms / 1000.0);
    if (rc == OR_OK)
        rc = or_expo_family(b, "process_start_time_seconds", "gauge",
                            "Start time of the process since the Unix epoch in seconds");
    if (rc == OR_OK)
        rc = or_expo_f64(b, "process_start_time_seconds", NULL, (double)started_wall_ms / 1000.0);
    if (rc == OR_OK)
        rc = or_expo_family(b, "process_cpu_seconds_total", "counter",
                            "Total user and system CPU time spent in seconds");
    if (rc == OR_OK)
        rc = or_expo_f64(b, "process_cpu_seconds_total", NULL, st.cpu_seconds);
    if (rc == OR_OK && st.rss_bytes) {
        rc = or_expo_family(b, "process_resident_memory_bytes", "gauge",
                            "Resident memory size in bytes");
        if (rc == OR_OK)
            rc = or_expo_u64(b, "process_resident_memory_bytes", NULL, st.rss_bytes);
        if (rc == OR_OK)
            rc = or_expo_family(b, "process_virtual_memory_bytes", "gauge",
                                "Virtual memory size in bytes");
        if (rc == OR_OK)
            rc = or_expo_u64(b, "process_virtual_memory_bytes", NULL, st.vsize_bytes);
    }
    if (rc == OR_OK && st.open_fds >= 0) {
        rc = or_expo_family(b, "process_open_fds", "gauge", "Number of open file descriptors");
        if (rc == OR_OK)
            rc = or_expo_u64(b, "process_open_fds", NULL, (uint64_t)st.open_fds);
    }
    if (rc == OR_OK && st.max_fds >= 0) {
        rc = or_expo_family(b, "process_max_fds", "gauge",
                            "Maximum number of open file descriptors");
        if (rc == OR_OK)
            rc = or_expo_u64(b, "process_max_fds", NULL, (uint64_t)st.max_fds);
    }
    return rc;
}
