#pragma once
// Memory that tensors and graph nodes use. Their buffers come from a per-thread cache of
// freed blocks, so a training step that repeats the shapes of the previous one reuses its
// memory instead of asking malloc (and the kernel) again. Statistics for tests and benchmarks.

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace tapegrad {

struct MemoryStats {
    std::uint64_t fresh_allocations = 0; // blocks obtained from the system allocator
    std::uint64_t reused_blocks = 0;     // blocks served from the cache
    std::size_t cached_bytes = 0;        // held in the cache now, ready for reuse
};

/// The calling thread's statistics since it started.
MemoryStats memory_stats();

/// Returns the calling thread's cached blocks to the system allocator.
void release_cached_memory();

/// The number of graph nodes alive in the process (leaves included).
std::size_t live_node_count();

namespace detail {

void* pooled_allocate(std::size_t bytes);
void pooled_deallocate(void* block, std::size_t bytes) noexcept;

/// A standard allocator over the cache; blocks over 512 bytes are 64-byte aligned, smaller
/// ones 16-byte aligned.
template <class T> struct PooledAllocator {
    using value_type = T;
    PooledAllocator() noexcept = default;
    template <class U> PooledAllocator(const PooledAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(pooled_allocate(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { pooled_deallocate(p, n * sizeof(T)); }
    /// Default-initialises (leaves floats uninitialised, as std::allocator does for
    /// xtensor), where the standard rule would zero every new buffer first.
    template <class U> void construct(U* p) noexcept(noexcept(U())) { ::new (address(p)) U; }
    template <class U, class... Args> void construct(U* p, Args&&... args) {
        ::new (address(p)) U(std::forward<Args>(args)...);
    }
    template <class U> static void* address(U* p) noexcept {
        return const_cast<void*>(static_cast<const void*>(p));
    }
    template <class U> bool operator==(const PooledAllocator<U>&) const noexcept { return true; }
    template <class U> bool operator!=(const PooledAllocator<U>&) const noexcept { return false; }
};

} // namespace detail
} // namespace tapegrad
