"""A stream's latency under a bulk hog: no governor, Warden with ADRG's rules only, Warden with
protect, side by side in one run, for an io, a cpu and a memory hog.

The stream is bench/stream_probe.py (a job every 10 ms) moved into a tier-1
container's cgroups; the hog runs in a tier-3 container. For each kind and
mode: the hog runs while the stream is idle (what the hog keeps when nothing
needs protecting); then the host is left to calm down (no limit left on the hog,
the resource's host avg10 low again), so that no mode starts with another's
leftovers; then the stream runs alone (its baseline p99), then the hog starts
under it: the stream's p99 per second after the hog starts, the first second
from which it stays within 2x of its baseline, when the first limit reached the
hog, and the hog's throughput (bytes for io, CPU time otherwise) as a share of
the no-governor run's. Needs the Docker engine, PSI and the test image (tests
create it). The numbers are as noisy as the machine they run on: compare the
rows of one run. --explain prints, for each second after the hog starts that is over
2x, its slow jobs with how long each waited for a CPU (the kernel's schedstat) and what
the kernel had the stream waiting in (sampled from /proc/<pid>/stack), beside the CPU
time every other process used in that second and the hypervisor's steal: whose the
slow second was. --modes runs a subset of the modes (none among them).

The memory hog grows a file in a tmpfs of its own (memory no reclaim can take back,
with no swap) 256 KiB at a time, as a transcoder's or a download client's memory
grows, and starts again from nothing once it holds HOG_PEAK_MB. A home server's
memory is the whole machine's, which a benchmark cannot fill safely: here the stream
and the hog share a parent cgroup limited to MEMORY_LIMIT_MB, in which the hog's peak
leaves too little for the stream's cached media (STREAM_CACHE_MB, read through the
page cache), so the kernel evicts the stream's cache to make room for the hog.

The io hog rewrites one big file on a bind mount with direct I/O, as a
transcoder writes new files and deletes old ones: its blocks are allocated and
freed again every pass, and what contends is the filesystem's journal as much
as the disk. The "quiet" row is the stream with no hog at all: the machine's
own noise, measured in the same run.

    .venv/bin/python -m bench.protect_stream [--kinds io,cpu,memory] [--hog-seconds 10]
                                            [--runs 1] [--explain] [--modes none,protect]
"""
