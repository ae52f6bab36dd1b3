// A per-thread cache of freed blocks in size classes: 16-byte steps up to 512 bytes, 64-byte
// steps up to 1 KiB, then four classes per power of two (at most 25% rounding). Tiny blocks
// (nodes, values, the buffers of small tensors) come from malloc as they are, 16-byte
// aligned; aligned_alloc would add up to 64 bytes to each. malloc puts an 8-byte header before
// each block and hands out memory in 16-byte steps, so a tiny class holds 16k - 8 bytes: block
// and header fill their step exactly. Larger blocks are 64-byte aligned for the matrix
// kernels. A block freed on another thread than the one that allocated it simply joins that
// thread's cache. Blocks too large for a class, or that would push a cache past its limit, go
// straight back to the system.

#include "tapegrad/memory.hpp"

#include <array>
#include <cstdlib>
#include <vector>

namespace tapegrad {

namespace {

constexpr std::size_t alignment = 64;
constexpr std::size_t tiny_step = 16, tiny_limit = 512, malloc_header = 8;
constexpr std::size_t small_step = 64, small_limit = 1024;
constexpr std::size_t tiny_classes = tiny_limit / tiny_step;                                  // 32
constexpr std::size_t small_classes = tiny_classes + (small_limit - tiny_limit) / small_step; // 40
constexpr int max_power = 34; // classes up to 16 GiB
constexpr std::size_t class_count = small_classes + 4 * (max_power - 10);
constexpr std::size_t cache_limit = std::size_t(512) << 20; // bytes one thread may hold

struct SizeClass {
    std::size_t index, bytes; // index == class_count: no class, allocate exactly
};

SizeClass size_class(std::size_t bytes) {
    if (bytes + malloc_header <= tiny_limit) {
        const std::size_t k = (bytes + malloc_header - 1) / tiny_step;
        return {k, (k + 1) * tiny_step - malloc_header};
    }
    if (bytes <= small_limit) {
        const std::size_t k = bytes <= tiny_limit ? 0 : (bytes - tiny_limit - 1) / small_step;
        return {tiny_classes + k, tiny_limit + (k + 1) * small_step};
    }
    int power = 10; // bytes in (2^power, 2^(power+1)]
    while ((std::size_t(1) << (power + 1)) < bytes) ++power;
    if (power >= max_power) return {class_count, (bytes + alignment - 1) / alignment * alignment};
    const std::size_t quarter = std::size_t(1) << (power - 2);
    const std::size_t steps = (bytes - (std::size_t(1) << power) + quarter - 1) / quarter; // 1..4
    return {small_classes + 4 * std::size_t(power - 10) + steps - 1,
            (std::size_t(1) << power) + steps * quarter};
}

struct Cache {
    std::array<std::vector<void*>, class_count> free_blocks;
    MemoryStats stats;

    void release() {
        for (auto& blocks : free_blocks) {
            for (void* block : blocks) std::free(block);
            blocks.clear();
        }
        stats.cached_bytes = 0;
    }
};

// Plain thread_locals (trivially destructible), so that a block freed during thread exit,
// after the cache is gone, can see that and go to the system.
thread_local Cache* cache = nullptr;
thread_local bool cache_gone = false;

struct CacheOwner {
    ~CacheOwner() {
        Cache* owned = cache;
        cache = nullptr;
        cache_gone = true;
        if (owned) owned->release();
        delete owned;
    }
};

/// This thread's cache; null while the thread is exiting.
Cache* thread_cache() {
    if (!cache && !cache_gone) {
        thread_local CacheOwner owner; // frees the cache when the thread ends
        cache = new Cache();
    }
    return cache;
}

} // namespace

MemoryStats memory_stats() {
    const Cache* c = thread_cache();
    return c ? c->stats : MemoryStats{};
}

void release_cached_memory() {
    if (Cache* c = thread_cache()) c->release();
}

namespace detail {

void* pooled_allocate(std::size_t bytes) {
    const SizeClass size = size_class(bytes);
    Cache* c = thread_cache();
    if (c && size.index < class_count && !c->free_blocks[size.index].empty()) {
        void* block = c->free_blocks[size.index].back();
        c->free_blocks[size.index].pop_back();
        c->stats.cached_bytes -= size.bytes;
        ++c->stats.reused_blocks;
        return block;
    }
    void* block = size.index < tiny_classes ? std::malloc(size.bytes)
                                            : std::aligned_alloc(alignment, size.bytes);
    if (!block) throw std::bad_alloc();
    if (c) ++c->stats.fresh_allocations;
    return block;
}

void pooled_deallocate(void* block, std::size_t bytes) noexcept {
    if (!block) return;
    const SizeClass size = size_class(bytes);
    if (cache && size.index < class_count &&
        cache->stats.cached_bytes + size.bytes <= cache_limit) {
        try {
            cache->free_blocks[size.index].push_back(block);
            cache->stats.cached_bytes += size.bytes;
            return;
        } catch (const std::bad_alloc&) {
            // no room to remember the block: give it back instead
        }
    }
    std::free(block);
}

} // namespace detail
} // namespace tapegrad
