// Data-path daemons move megabyte buffers (gRPC messages, chunk pieces) all
// day. glibc serves allocations above its mmap threshold with fresh
// mmap'ed pages and returns them on free, so every buffer pays for page
// faults and zeroing again; perf showed 12% of a chain write's CPU in
// page faults. Keeping such buffers in the heap makes them reusable.
#pragma once

#include <malloc.h>

namespace dfs {

// Call once at the start of main(), before threads start.
inline void KeepLargeBuffersInHeap() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);   // heap, not mmap, below 64 MiB
  mallopt(M_TRIM_THRESHOLD, 256 << 20);  // keep up to 256 MiB of free heap
}

}  // namespace dfs
