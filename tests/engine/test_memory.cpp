// The block cache: a repeated step takes its buffers from the cache, not from malloc.

#include "tapegrad/tapegrad.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

namespace tapegrad {
namespace {

using D = Tensor<double>;

void one_step(D& w) {
    w.zero_grad();
    sum(tanh(matmul(D::ones({16, 32}), w)) * 2.0).backward();
}

TEST(Memory, ARepeatedStepReusesCachedBlocks) {
    D w = D::ones({32, 8}, true);
    one_step(w); // warms the cache
    const MemoryStats before = memory_stats();
    for (int i = 0; i < 10; ++i) one_step(w);
    const MemoryStats after = memory_stats();
    EXPECT_EQ(after.fresh_allocations, before.fresh_allocations);
    EXPECT_GT(after.reused_blocks, before.reused_blocks);
    EXPECT_GT(after.cached_bytes, 0u);
}

TEST(Memory, ReleaseEmptiesTheCache) {
    { D scratch = D::ones({128, 128}); }
    EXPECT_GT(memory_stats().cached_bytes, 0u);
    release_cached_memory();
    EXPECT_EQ(memory_stats().cached_bytes, 0u);
    const auto fresh = memory_stats().fresh_allocations;
    D again = D::ones({128, 128}); // nothing cached to reuse
    EXPECT_GT(memory_stats().fresh_allocations, fresh);
}

TEST(Memory, BlocksAreAlignedAsDocumented) {
    for (std::size_t bytes : {1, 16, 100, 504, 505, 512, 513, 1000, 5000, 1 << 20}) {
        void* block = detail::pooled_allocate(bytes);
        const std::size_t alignment = bytes > 512 ? 64 : 16;
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % alignment, 0u) << bytes << " bytes";
        detail::pooled_deallocate(block, bytes);
    }
}

// Tiny classes are sized around malloc's header; the sanitizer build catches a class that
// is smaller than what it was asked to hold.
TEST(Memory, EveryBlockHoldsWhatWasAsked) {
    for (std::size_t bytes = 1; bytes <= 1100; ++bytes) {
        auto* block = static_cast<unsigned char*>(detail::pooled_allocate(bytes));
        std::fill(block, block + bytes, static_cast<unsigned char>(bytes));
        EXPECT_EQ(block[bytes - 1], static_cast<unsigned char>(bytes));
        detail::pooled_deallocate(block, bytes);
    }
}

} // namespace
} // namespace tapegrad
