// The C library's allocator, set for tensors. A training step and an evaluation allocate
// and free the same few large tensors over and over (activations of 1-30 MB). glibc's
// defaults serve some of them with a fresh mmap and give others back to the kernel as soon
// as they are freed (trimming the heap), so every step touches new pages: on the CNN
// benchmark that was 7 million page faults and 13 s of kernel time in a 40 s run, and
// evaluation ran at 60% of the speed it has with the pages kept. configureAllocator() keeps
// blocks up to 32 MiB on the heap and freed memory in the process until 256 MiB of it is free
// at the top (peak memory is unchanged: the pages are reused, not added).
// Thread contract: configureAllocator() once at the start of main, before other threads;
// releaseFreeMemory() from any thread.
#pragma once

#include <cstddef>
#include <string>

namespace distill {

// Blocks up to this size come from the heap (glibc's M_MMAP_THRESHOLD); larger ones are
// mapped and unmapped on their own. Evaluation chunks keep their activations under it.
constexpr std::size_t kAllocatorMmapThreshold = std::size_t{32} << 20;
// Freed memory at the top of a heap stays in the process until there is this much (M_TRIM_THRESHOLD).
constexpr std::size_t kAllocatorTrimThreshold = std::size_t{256} << 20;

// Applies both thresholds, unless GLIBC_TUNABLES already sets a glibc.malloc value (the
// user's choice wins) or the C library is not glibc. Returns what it did, in words, for the
// log and the run's environment.
std::string configureAllocator();
// The setting configureAllocator() chose ("" before it ran).
std::string allocatorSetting();
// Hands freed memory back to the kernel (malloc_trim): after a run in a process that lives on.
void releaseFreeMemory();

}  // namespace distill
