#pragma once
// Images and labels, normalisation, and seeded mini-batches. The pixels stay bytes, as the
// files hold them; a batch turns its rows into normalised floats when it is made, so a
// dataset costs one byte per pixel.

#include "tapegrad/data/idx.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tapegrad::data {

/// A pixel's value as a float: x = byte / 255, then (x - mean) / std.
struct Normalization {
    float mean = 0, std = 1;
};

/// `count` images of `features` pixels each, row-major, with one class label each.
struct LabeledImages {
    std::size_t count = 0, features = 0;
    std::vector<std::uint8_t> pixels; // count x features, as read
    std::vector<std::int64_t> labels;
    Normalization normalization; // applied to the rows that batches read

    /// Rows [first, first + rows) as normalised floats, row-major.
    std::vector<float> rows(std::size_t first, std::size_t rows) const;
};

/// Takes over the image bytes. Throws FormatError when the counts disagree or a label is not
/// below `classes`.
LabeledImages to_labeled_images(IdxArray images, const IdxArray& labels, std::size_t classes);

/// Keeps the first `count` examples (all when count is 0 or larger than the set).
void keep_first(LabeledImages& set, std::size_t count);

/// Mean and standard deviation of all pixels of `set`, as floats in [0, 1].
Normalization fit_normalization(const LabeledImages& set);

struct Batch {
    std::size_t rows = 0, features = 0;
    std::vector<float> inputs; // rows x features
    std::vector<std::int64_t> labels;
    /// Rows of the whole step over all shards (rows itself when not sharded).
    std::size_t step_rows = 0;
};

/// This process's part of every batch in data-parallel training: the loader walks steps of
/// batch_size x count examples and shard `index` takes its contiguous share of each.
struct Shard {
    std::size_t index = 0, count = 1;
};

/// Mini-batches over a set. When shuffling, each epoch visits the examples in a permutation
/// drawn from (seed, epoch) alone, so every shard and every resumed run sees the same order.
/// The last batch of an epoch may be smaller (and a shard's share of it empty).
class BatchLoader {
public:
    BatchLoader(const LabeledImages& set, std::size_t batch_size, bool shuffle, std::uint64_t seed,
                Shard shard = {});
    std::size_t batches_per_epoch() const;
    /// Starts epoch `epoch` (0-based): draws its order (when shuffling) and rewinds.
    void start_epoch(std::uint64_t epoch);
    /// Fills `batch` with this shard's part of the next step; false when the epoch is over.
    bool next(Batch& batch);

private:
    const LabeledImages& set_;
    std::size_t batch_size_;
    bool shuffle_;
    std::uint64_t seed_;
    Shard shard_;
    std::vector<std::size_t> order_;
    std::size_t position_ = 0;
};

} // namespace tapegrad::data
